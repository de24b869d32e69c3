"""Forecast rows: one per (series, origin, horizon step), so the engine's learners and stack forecast as regressors.

At origin ``t`` a series' known values are ``v[:t]``. Everything is divided by the series' scale at
the origin (the mean absolute value of its last ``lags`` known values, 1 where they are all 0), so
one global model serves series of any size, and then taken as ``log1p``: a squared error there is
about a relative one, which is what MAPE and sMAPE weigh (docs/forecasting.md measures both scales).
A row's inputs (``WindowInputs.groups_``):
- ``window`` (``lags``): the last ``lags`` scaled values, oldest first, left-padded with the oldest;
- ``step`` (``horizon``): one-hot of the step ahead, 1 .. horizon;
- ``features``: the window and the step again, the statistical forecasts of this step from ``v[:t]``
  (seasonal naive, Theta and ETS, scaled; ETS's parameters are fitted at a series' first origin of
  the part, its states run on to each later one), log1p of the scale, and the share of the window that was known
  (never the origin itself: a time index lets a network memorise each series' past, which looks
  good out of fold on overlapping windows and is useless ahead).
The target is ``v[t + step - 1]`` scaled (the task's ``TargetScale`` takes the log). Rows never read a value at or after their origin as input.
"""

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pel_torch.errors import PelError
from pel_torch.forecasting.ets import ExponentialSmoothing
from pel_torch.forecasting.metrics import mase_scale
from pel_torch.forecasting.statistical import seasonal_naive, theta

STATE_VERSION = 3   # 2: the ETS forecast among the inputs; 3: log1p of the scaled values
MIN_KNOWN = 3       # values a training origin must know


def statistical_forecasters() -> dict:
    """The statistical forecasters of one ``forecast_rows`` call: ``(series, history, period, horizon) -> Forecast``."""
    return {"seasonal_naive": lambda series, y, period, h: seasonal_naive(y, period, h),
            "theta": lambda series, y, period, h: theta(y, period, h), "ets": ExponentialSmoothing()}


STATISTICAL = tuple(statistical_forecasters())   # their names, in the order of their input columns


def learning_scale(scaled: np.ndarray) -> np.ndarray:
    """Scaled values as the learners read them; volumes are never negative, a statistical forecast may dip below 0."""
    return np.log1p(np.maximum(scaled, 0.0))


def series_scale(known: np.ndarray, lags: int) -> float:
    level = float(np.mean(np.abs(known[-lags:]))) if len(known) else 0.0
    return level if level > 0 else 1.0


def forecast_rows(ids: list[str], histories: list[np.ndarray], futures: list[np.ndarray | None], origins: list[list[int]],
                  part: str, period: int, horizon: int, lags: int, progress: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of every ``(series i, origin t in origins[i], step)``; ``histories[i][:t]`` is what is known.

    Targets come from ``histories[i][t:]`` continued by ``futures[i]`` (the held-out values, where
    given); a step past every known value has a NaN target (a forecast to make, not to score).
    Returns the rows' table (series, origin, step, part, scale, mase_scale, actual, and the
    statistical forecasts in volume) and their raw inputs ``(n, n_inputs)`` float64."""
    tables, blocks, forecasters = [], [], statistical_forecasters()
    work = [(i, t) for i, ts in enumerate(origins) for t in ts]
    for i, t in tqdm(work, desc=f"{part} windows", unit="origin", disable=not progress or len(work) < 500, leave=False):
        known = histories[i][:t]
        ahead = np.concatenate([histories[i][t:], futures[i] if futures[i] is not None else []])[:horizon]
        actual = np.full(horizon, np.nan)
        actual[:len(ahead)] = ahead
        scale = series_scale(known, lags)
        window = known[-lags:]
        window = np.concatenate([np.full(lags - len(window), window[0]), window]) / scale
        statistical = {name: forecaster(i, known, period, horizon) for name, forecaster in forecasters.items()}
        steps = np.arange(1, horizon + 1)
        tables.append(pd.DataFrame({"series": ids[i], "origin": t, "step": steps, "part": part, "scale": scale,
                                    "mase_scale": mase_scale(known, period), "actual": actual,
                                    **{name: f.mean for name, f in statistical.items()},
                                    **{f"{name}_method": f.method for name, f in statistical.items()}}))
        blocks.append(np.column_stack([np.tile(learning_scale(window), (horizon, 1)), np.eye(horizon),
                                       *[learning_scale(f.mean[:, None] / scale) for f in statistical.values()],
                                       np.full((horizon, 1), np.log1p(scale)), np.full((horizon, 1), min(t, lags) / lags)]))
    return pd.concat(tables, ignore_index=True), np.vstack(blocks)


class WindowInputs:
    """The input builder a checkpoint stores: the rows' layout and the training rows' mean and std (for the stack's
    standardisation); ``fit`` reads only training rows."""

    def __init__(self, lags: int, horizon: int):
        self.lags, self.horizon = lags, horizon

    def settings(self) -> dict:
        return {"lags": self.lags, "horizon": self.horizon}

    def fit(self, raw: np.ndarray) -> "WindowInputs":
        self.mean_, std = raw.mean(axis=0), raw.std(axis=0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        # the statistical forecasts stay in the target's units, so the head can take them as they are
        forecasts = [self.feature_names_.index(f"{name}_forecast") for name in STATISTICAL]
        self.mean_[forecasts], self.std_[forecasts] = 0.0, 1.0
        return self

    @property
    def feature_names_(self) -> list[str]:
        return ([f"lag_{self.lags - k}" for k in range(self.lags)] + [f"step_{k + 1}" for k in range(self.horizon)]
                + [f"{name}_forecast" for name in STATISTICAL] + ["log1p_scale", "window_known"])

    @property
    def groups_(self) -> dict[str, np.ndarray]:
        window, step = np.arange(self.lags), self.lags + np.arange(self.horizon)
        # trees and tabular networks read everything; the sequence model reads the window and the step
        return {"window": window, "step": step, "features": np.arange(len(self.feature_names_))}

    def standardize(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.mean_) / self.std_).astype(np.float32)

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {"mean": self.mean_, "std": self.std_}, {"version": STATE_VERSION, **self.settings(), "feature_names": self.feature_names_}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], spec: dict) -> "WindowInputs":
        if spec.get("version") != STATE_VERSION:
            raise PelError(f"forecast inputs of version {spec.get('version')}, this pel_torch builds version {STATE_VERSION} "
                           "(log1p of the scaled values since 3): retrain the checkpoint (python train.py task=genre_volume ...)")
        inputs = cls(spec["lags"], spec["horizon"])
        inputs.mean_, inputs.std_ = np.asarray(arrays["mean"]), np.asarray(arrays["std"])
        return inputs
