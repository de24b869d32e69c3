"""Box office before release (P-EL, Zhao et al. 2024): pretrain on plentiful ratings, fine-tune on scarce revenue."""

import logging
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from pel_torch.data import load_films, schema
from pel_torch.errors import DataError
from pel_torch.features.targets import TargetScale
from pel_torch.metrics import regression_metrics
from pel_torch.tasks.base import Prepared, Task
from pel_torch.tasks.box_office import prediction_rows, targets
from pel_torch.tasks.box_office.featurizer import STATE_VERSION, FilmFeaturizer
from pel_torch.tasks.box_office.splits import make_split

log = logging.getLogger(__name__)
MIN_LABELLED = 10  # box-office films needed to split into train, validation and test


class BoxOfficeTask(Task):
    """Films in the canonical film table (``pel_torch.data``); the target is log1p revenue."""

    name = "box_office"
    main_target = "revenue"
    pretraining_targets = targets.PRETRAINING_TARGETS
    prediction_columns = prediction_rows.OUTPUT_COLUMNS
    input_version = STATE_VERSION

    def prepare(self, cfg, inputs: FilmFeaturizer | None = None) -> Prepared:
        """Load, split, and featurize every film with a featurizer fitted on the split's history only
        (or with ``inputs``, already fitted: a checkpoint's)."""
        films = self.load(cfg)
        labelled = int(films[self.main_target].notna().sum())
        if labelled < MIN_LABELLED:
            raise DataError(f"{self.source(cfg)}: {labelled} films have '{self.main_target}' (box office in USD), the target of "
                            f"task box_office; at least {MIN_LABELLED} are needed. Add that column, or map yours onto it: "
                            "data.options.columns={revenue: YOUR_COLUMN}")
        s = cfg.split
        split = make_split(films, s.kind, seed=cfg.seed, val_fraction=s.val_fraction, test_fraction=s.test_fraction,
                           val_from=s.val_from, test_from=s.test_from)
        log.info(split.describe())
        # Every loaded film's attributes (never its targets) may serve as an earlier film for temporal differences.
        featurizer = inputs or build_featurizer(cfg).fit(films.iloc[split.history], catalog=films)
        raw = featurizer.transform_raw(films)
        return Prepared(films, split, featurizer, raw, featurizer.standardize(raw), films[schema.ID].astype(str).to_numpy())

    def load(self, cfg):
        options = OmegaConf.to_container(cfg.data.options, resolve=True) or {}
        films, report = load_films(cfg.data.source, *cfg.data.paths, **options)
        for line in report.lines():
            log.info(line)
        return films

    def source(self, cfg) -> str:
        """Where the films come from: the embedded data, or the user's file(s)."""
        return "the embedded Wikidata films" if cfg.data.source == "wikidata" and not cfg.data.paths else \
            f"{cfg.data.source} {', '.join(map(str, cfg.data.paths))}"

    def describe(self, cfg, prepared: Prepared) -> str:
        """The source, how many films, and which optional columns hold values (reports name the data they ran on)."""
        films = prepared.table
        present = [c for c in schema.CANONICAL_COLUMNS if c not in (schema.ID, schema.TITLE) and films[c].notna().any()]
        absent = [c for c in schema.CANONICAL_COLUMNS if c not in present and c not in (schema.ID, schema.TITLE)]
        return (f"{self.source(cfg)} ({len(films):,} films; columns with values: {', '.join(present)}"
                + (f"; without: {', '.join(absent)}" if absent else "") + ")")

    def target_values(self, table, name: str) -> np.ndarray:
        return table[name].to_numpy(dtype="float64")

    def target_scale(self, prepared: Prepared) -> TargetScale:
        return targets.target_scale(prepared.table, self.main_target, prepared.split.train)

    def pretraining_set(self, prepared: Prepared, target: str):
        return targets.pretraining_set(prepared, target)

    def metrics(self, y: np.ndarray, prediction: np.ndarray, scale: TargetScale, rows=None) -> dict[str, float]:
        """R2 / MSE / MAE on the standardised log1p revenue, the MAE in log dollars, and how many films."""
        metrics = regression_metrics(y, prediction)
        return {**metrics, "mae_log_dollars": metrics["mae"] * scale.std, "films": float(len(y))}

    def input_settings(self, cfg) -> dict:
        return build_featurizer(cfg).settings()

    def load_inputs(self, arrays, spec) -> FilmFeaturizer:
        return FilmFeaturizer.from_state(arrays, spec)

    def split_signature(self, cfg) -> dict:
        signature = {"source": cfg.data.source, "paths": [str(p) for p in cfg.data.paths],
                     **OmegaConf.to_container(cfg.split, resolve=True)}
        if cfg.split.kind == "random":
            signature["seed"] = cfg.seed  # the random split is drawn from the seed
        return signature

    def prediction_rows(self, checkpoint, source: Path, batch_size: int):
        options = checkpoint.spec["extra"].get("config", {}).get("data", {}).get("options") or {}
        return prediction_rows.featurized_chunks(checkpoint.inputs, source, batch_size, options)

    def fill_predictions(self, frame, rows, standardised, scale: TargetScale):
        frame.loc[rows, "predicted_log1p_revenue"] = standardised * scale.std + scale.mean
        frame.loc[rows, "predicted_revenue_usd"] = scale.decode(standardised)
        return frame

    def report(self, cfg) -> list[Path]:
        from pel_torch.tasks.box_office.report import run_table2  # the report trains: kept off evaluate's import path

        return run_table2(cfg)


def build_featurizer(cfg) -> FilmFeaturizer:
    f = cfg.features
    return FilmFeaturizer(targets=tuple(f.targets), lead_cast=f.lead_cast if cfg.data.cast_in_billing_order else None,
                          smoothing=f.smoothing, top_languages=f.top_languages, top_countries=f.top_countries,
                          min_genre_films=f.min_genre_films, temporal_differences=f.temporal_differences)
