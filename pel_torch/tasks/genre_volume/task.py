"""How much each genre (or any series of a panel) will draw in each coming period: forecast rows, one stack.

Data (``data=``): ``genres`` (ratings per genre of the embedded MovieLens-100K, a demo of the
mechanics), ``tourism_monthly`` / ``tourism_quarterly`` (the competition, its own split), or the
user's ``long_panel`` / ``event_log``. Split: every series' last ``horizon`` periods are test (the
competition's held-out values for Tourism); the ``split.val_origins`` origins before it, whose
forecasts end where the test starts, validate (the head is chosen there); up to
``split.max_origins`` earlier origins train, and a training row's target never reaches a
validation origin. ``split.test_offset`` periods are cut from every series' end first, to test an
earlier window. ``stage=pretrain`` adds the rows of other series (``pretrain.series``, part
``pool``) after all of these: the networks learn there first (``pool.py``).
"""

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from pel_torch.data.panels import Panel, read_event_log, read_long_panel
from pel_torch.data.tourism import load_tourism
from pel_torch.errors import DataError, PelError
from pel_torch.features.targets import TargetScale
from pel_torch.forecasting.metrics import METRICS, average, series_errors
from pel_torch.tasks.base import Prepared, TargetSet, Task, refit_setting
from pel_torch.tasks.genre_volume.data import genre_panel
from pel_torch.tasks.genre_volume.pool import check_pool, pool_rows
from pel_torch.tasks.genre_volume.windows import MIN_KNOWN, STATE_VERSION, STATISTICAL, WindowInputs, forecast_rows

log = logging.getLogger(__name__)
SOURCES = ("genres", "tourism", "long_panel", "event_log")


@dataclass(frozen=True)
class WindowSplit:
    """``refit``: rows of the latest origins whose targets are all known (they reach the validation targets), where the
    members are fitted again under the head chosen on ``val``; empty with ``split.refit: false``. ``refit_once``: each
    learner of the last layer fitted once on them instead of bagged (``StackedEnsemble.refit``)."""

    kind: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    refit: np.ndarray
    refit_once: bool = False

    def describe(self) -> str:
        refit = f", refit {len(self.refit):,}" if len(self.refit) else ""
        return (f"{self.kind} split: train {len(self.train):,}, validation {len(self.val):,}, test {len(self.test):,}{refit} "
                "forecast rows")


NETWORK_HOLDOUTS = ("latest", "random")


def network_holdout(cfg) -> str:
    holdout = cfg.get("network_holdout", "random")   # a checkpoint saved before the key was fitted on the random tenth
    if holdout not in NETWORK_HOLDOUTS:
        raise DataError(f"network_holdout={holdout}: give {' or '.join(NETWORK_HOLDOUTS)} (the training rows the networks stop early on)")
    return holdout


class GenreVolumeTask(Task):
    """Rows are (series, origin, step); the target is the value ``step`` periods after the origin, over the series' scale."""

    name = "genre_volume"
    main_target = "volume"
    pretraining_targets = ("other_series",)
    config_keys = ("freq", "horizon", "lags", "network_holdout")
    input_version = STATE_VERSION

    def load(self, cfg) -> tuple[Panel, list[np.ndarray], list[np.ndarray]]:
        """The panel, each series' history and its held-out last ``horizon`` values."""
        source, paths = cfg.data.source, list(cfg.data.paths)
        options = OmegaConf.to_container(cfg.data.options, resolve=True) or {}
        if source == "tourism":
            if cfg.split.test_offset:
                raise DataError(f"split.test_offset={cfg.split.test_offset}: Tourism is scored on the competition's held-out values; "
                                "an earlier test window is for other data")
            panel, horizon = load_tourism(options.get("kind", "monthly"))
            if cfg.horizon != horizon:
                raise DataError(f"horizon={cfg.horizon}: Tourism {options.get('kind')} is scored at the competition's horizon, {horizon}")
            return panel, panel.values, panel.test
        if source == "genres":
            panel = genre_panel(cfg.freq, paths[0] if paths else None)
        elif source in ("long_panel", "event_log"):
            if len(paths) != 1:
                raise DataError(f"data={source}: give exactly one file in data.paths, got {len(paths)}")
            reader = read_long_panel if source == "long_panel" else read_event_log
            panel = reader(paths[0], cfg.freq, options.get("columns"))
        else:
            raise DataError(f"data.source={source}: task=genre_volume reads {', '.join(SOURCES)} (data=genres, data=tourism_monthly, ...)")
        for line in panel.report.lines():
            log.info(line)
        offset = cfg.split.test_offset
        if not isinstance(offset, int) or offset < 0:
            raise DataError(f"split.test_offset={offset}: give a whole number of periods, 0 or more, to hold back from every series' end")
        needed = 2 * cfg.horizon + (cfg.split.val_origins - 1) * cfg.split.origin_stride + MIN_KNOWN + offset
        short = [(name, len(v)) for name, v in zip(panel.ids, panel.values) if len(v) < needed]
        if short:
            raise DataError(f"series {short[0][0]} has {short[0][1]} periods ({len(short)} series are that short): a test and a validation "
                            f"window of horizon={cfg.horizon}" + (f" after split.test_offset={offset}" if offset else "")
                            + f" need at least {needed}; lower horizon=" + (" or split.test_offset=" if offset else "")
                            + " or leave such series out")
        if offset:   # an earlier test window: what follows it is never read
            panel = replace(panel, values=[v[:len(v) - offset] for v in panel.values],
                            dates=[d[:len(d) - offset] for d in panel.dates] if panel.dates else None)
        return panel, [v[:-cfg.horizon] for v in panel.values], [v[-cfg.horizon:] for v in panel.values]

    def prepare(self, cfg, inputs: WindowInputs | None = None) -> Prepared:
        if self._pretraining(cfg):
            check_pool(list(cfg.pretrain.series), cfg.data)   # before minutes of windows
        return self._prepare(cfg, *self.load(cfg), inputs)

    @staticmethod
    def _pretraining(cfg) -> bool:
        return cfg.stage == "pretrain" and "other_series" in cfg.pretrain.targets

    def _prepare(self, cfg, panel: Panel, histories: list[np.ndarray], futures: list[np.ndarray], inputs: WindowInputs | None) -> Prepared:
        h, lags, s = cfg.horizon, cfg.lags, cfg.split
        refit = refit_setting(s, "the latest origins")
        network_holdout(cfg)   # before minutes of windows
        parts = {"train": [], "val": [], "test": [[len(v)] for v in histories], "refit": []}
        for v in histories:
            # validation origins end where the test window starts; a training target never reaches the first of them
            val = latest_origins(len(v) - h, s.val_origins, s.origin_stride)
            parts["val"].append(val)
            parts["train"].append(latest_origins(val[0] - h, s.max_origins, s.origin_stride))
            # the refit's origins are the training ones moved up to the last whose targets are all known
            parts["refit"].append(latest_origins(len(v) - h, s.max_origins, s.origin_stride) if refit is not False else [])
        tables, raws = zip(*(forecast_rows(panel.ids, histories, futures, origins, part, panel.period, h, lags)
                             for part, origins in parts.items() if any(origins)))
        if self._pretraining(cfg):   # after every row of the split: its positions hold
            pool = pool_rows(list(cfg.pretrain.series), h, lags, s.max_origins)
            tables, raws = tables + (pool[0],), raws + (pool[1],)
        table, raw = pd.concat(tables, ignore_index=True), np.vstack(raws)
        positions = {part: np.flatnonzero(table["part"].to_numpy() == part) for part in parts}
        split = WindowSplit(s.kind, positions["train"], positions["val"], positions["test"], positions["refit"], refit == "once")
        log.info(split.describe())
        inputs = inputs or WindowInputs(lags, h).fit(raw[split.train])
        groups = {**inputs.groups_, **{name: np.array([inputs.feature_names_.index(f"{name}_forecast")]) for name in STATISTICAL}}
        ids = (table["series"].astype(str) + "@" + table["origin"].astype(str) + "+" + table["step"].astype(str)).to_numpy()
        return Prepared(table, split, inputs, raw, inputs.standardize(raw), ids, groups, {"lags": lags, "horizon": h},
                        times=self.row_times(cfg, table))

    @staticmethod
    def row_times(cfg, table: pd.DataFrame) -> np.ndarray | None:
        """``network_holdout``: ``latest`` gives each row its target's period, counted back from its series' latest origin
        so that series of any length end together (the networks then stop early on the latest training targets);
        ``random``, None (a random tenth)."""
        if network_holdout(cfg) == "random":
            return None
        return (table["origin"] + table["step"] - 1 - table.groupby("series")["origin"].transform("max")).to_numpy(dtype=np.float64)

    def describe(self, cfg, prepared: Prepared) -> str:
        series = prepared.table["series"].nunique()
        return f"{cfg.data.source} {' '.join(map(str, cfg.data.paths))}".strip() + f" ({series:,} series, horizon {cfg.horizon})"

    def target_values(self, table: pd.DataFrame, name: str) -> np.ndarray:
        return (table["actual"] / table["scale"]).to_numpy(dtype=np.float64)

    def pretraining_set(self, prepared: Prepared, target: str) -> TargetSet:
        """``other_series``: the rows of ``pretrain.series``, the pool's panels, in the target's units (over each series' scale)."""
        rows = np.flatnonzero(prepared.table["part"].to_numpy() == "pool")
        table = prepared.table.iloc[rows]
        series = table["series"].str.split(":").str[0].unique()
        scale = self.target_scale(prepared)   # the pool's rows are learned as the target's
        return TargetSet(prepared.features[rows], scale.encode(self.target_values(table, target)), {**scale.to_dict(), "name": target},
                         list(prepared.ids[rows]), f"{table['series'].nunique():,} series of {', '.join(series)}")

    def target_scale(self, prepared: Prepared) -> TargetScale:
        """``log1p`` of the target over its series' scale, not standardised further: the units of the statistical
        forecasts among the inputs (``windows.learning_scale``), which the stack then weighs as they are."""
        return TargetScale(self.main_target, True, 0.0, 1.0)

    def metrics(self, y: np.ndarray, prediction: np.ndarray, scale: TargetScale, rows: pd.DataFrame | None = None) -> dict[str, float]:
        """The competitions' MAPE, sMAPE and MASE, and RMSE, in the series' own units: per (series, origin) over its
        steps, then averaged (``rows``: the scored rows of the task's table); without ``rows``, RMSE of the scaled values."""
        if rows is None:
            return {"rmse_scaled": float(np.sqrt(np.mean(((prediction - y) * scale.std) ** 2)))}
        frame = rows.assign(forecast=scale.decode(prediction) * rows["scale"].to_numpy())
        return forecast_errors(frame, "forecast")

    def figures(self, prepared: Prepared, rows: np.ndarray, prediction: np.ndarray, scale: TargetScale) -> dict:
        """The last validation origin of a few series: the window the stack read, what came next and its forecast."""
        from pel_torch.tasks.genre_volume.forecast import validation_figure

        table = prepared.table.iloc[rows]
        last = (table["origin"] == table.groupby("series")["origin"].transform("max")).to_numpy()
        volume = table["scale"].to_numpy()[last]
        # the window is in the target's learning units (windows.learning_scale), which the target scale decodes
        window = scale.decode(prepared.raw[rows[last], :prepared.sizes["lags"]]) * volume[:, None]
        return {"validation_forecasts": validation_figure(table[last], window, scale.decode(prediction[last]) * volume)}

    def input_settings(self, cfg) -> dict:
        return {"lags": cfg.lags, "horizon": cfg.horizon}

    def load_inputs(self, arrays, spec) -> WindowInputs:
        return WindowInputs.from_state(arrays, spec)

    def split_signature(self, cfg) -> dict:
        return {"source": cfg.data.source, "paths": [str(p) for p in cfg.data.paths], "freq": cfg.freq, "horizon": cfg.horizon,
                **OmegaConf.to_container(cfg.split, resolve=True)}

    def prediction_rows(self, checkpoint, source: Path, batch_size: int):
        raise PelError("predict.input: task=genre_volume forecasts series, not rows; use forecast.output=forecast.csv "
                       "for every series past its last value")

    def forecast(self, cfg, checkpoint) -> list[str]:
        """``forecast.output``: every series forecast past its last value by ``checkpoint``, with 80% intervals, and figures."""
        from pel_torch.evaluation import checkpoint_config
        from pel_torch.inference import predict_batches, select_kernels, validation_predictions
        from pel_torch.tasks.genre_volume.forecast import conformal_interval, future_dates, write_forecast

        saved = checkpoint_config(cfg, checkpoint)
        panel, histories, futures = self.load(saved)
        prepared = self._prepare(saved, panel, histories, futures, checkpoint.inputs)
        full = [np.concatenate([h, f]) for h, f in zip(histories, futures)]
        rows, raw = forecast_rows(panel.ids, full, [None] * len(full), [[len(v)] for v in full], "future", panel.period, saved.horizon,
                                  saved.lags)
        model, _ = select_kernels(checkpoint.model, cfg.kernels, cfg.device)
        target = TargetScale.from_dict(checkpoint.spec["target"])
        p50 = target.decode(predict_batches(model, raw, device=cfg.device)) * rows["scale"].to_numpy()
        val = prepared.split.val
        # the interval comes from errors on rows the model had not seen: before a refit, where there was one
        own = validation_predictions(model, prepared.raw[val], checkpoint.held_out, device=cfg.device)
        val_forecast = target.decode(own) * prepared.table["scale"].to_numpy()[val]
        p10, p90 = conformal_interval(prepared.table.iloc[val], val_forecast, rows, p50)
        dates = {name: panel.dates[i] if panel.dates else None for i, name in enumerate(panel.ids)}
        frame = pd.DataFrame({"series_id": rows["series"], "date": [d for name in panel.ids for d in future_dates(dates[name], saved.horizon)],
                              # volumes are never negative: neither is a forecast or its interval
                              "p10": np.maximum(p10, 0.0), "p50": np.maximum(p50, 0.0), "p90": np.maximum(p90, 0.0)})
        histories_shown = {name: ([str(d) for d in dates[name]] if dates[name] is not None else [], full[i]) for i, name in enumerate(panel.ids)}
        written = write_forecast(frame, histories_shown, cfg.forecast.output, overwrite=cfg.overwrite)
        return [f"wrote {len(frame):,} forecasts ({len(panel):,} series x {saved.horizon} periods) -> {written[0]}",
                f"figures: {written[-1].parent} (one per series, and {written[-1].name})",
                "p10 / p90: an 80% interval from the stack's errors on the validation origins (split-conformal)"]

    def report(self, cfg) -> list[Path]:
        from pel_torch.tasks.genre_volume.report import run_report  # the report trains: kept off evaluate's import path

        return run_report(cfg)


def latest_origins(last: int, count: int, stride: int) -> list[int]:
    """Up to ``count`` origins ``stride`` apart, ending at ``last``, none before ``MIN_KNOWN``."""
    return list(range(max(MIN_KNOWN, last - (count - 1) * stride), last + 1, stride))


def forecast_errors(frame: pd.DataFrame, column: str) -> dict[str, float]:
    """``frame``: rows with ``series``, ``origin``, ``actual``, ``mase_scale`` and the forecast in ``column``; the
    competition metrics of each (series, origin) over its steps, averaged, and how many such windows."""
    windows = frame.groupby(["series", "origin"], sort=False)
    errors = average([series_errors(rows["actual"], rows[column], rows["mase_scale"].iloc[0]) for _, rows in windows])
    return {**{name: errors[name] for name in METRICS}, "windows": float(windows.ngroups)}
