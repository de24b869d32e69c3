"""Objects built from config, in one place: entry points and tests call these functions."""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from pel_torch.data import load_films
from pel_torch.data.splits import Split, make_split
from pel_torch.features import FilmFeaturizer
from pel_torch.learners import make_learner
from pel_torch.learners.stacking import StackedEnsemble
from pel_torch.threads import limit_threads

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A loaded table, its split and a featurizer fitted on the split's history."""

    films: pd.DataFrame
    split: Split
    featurizer: FilmFeaturizer
    raw: np.ndarray       # (n_films, n_features) float64, the compiled stack's input
    features: np.ndarray  # (n_films, n_features) float32, standardised: what learners are fitted on


def load_data(cfg: DictConfig) -> pd.DataFrame:
    options = OmegaConf.to_container(cfg.data.options, resolve=True) or {}
    films, report = load_films(cfg.data.source, *cfg.data.paths, **options)
    for line in report.lines():
        log.info(line)
    return films


def build_split(cfg: DictConfig, films: pd.DataFrame) -> Split:
    s = cfg.split
    return make_split(films, s.kind, seed=cfg.seed, val_fraction=s.val_fraction, test_fraction=s.test_fraction,
                      val_from=s.val_from, test_from=s.test_from)


def split_signature(cfg: DictConfig) -> dict:
    """What decides which films a model may learn from: stored with checkpoints, compared on reload."""
    signature = {"source": cfg.data.source, "paths": [str(p) for p in cfg.data.paths],
                 **OmegaConf.to_container(cfg.split, resolve=True)}
    if cfg.split.kind == "random":
        signature["seed"] = cfg.seed  # the random split is drawn from the seed
    return signature


def build_featurizer(cfg: DictConfig) -> FilmFeaturizer:
    f = cfg.features
    return FilmFeaturizer(targets=tuple(f.targets), lead_cast=f.lead_cast if cfg.data.cast_in_billing_order else None,
                          smoothing=f.smoothing, top_languages=f.top_languages, top_countries=f.top_countries,
                          min_genre_films=f.min_genre_films, temporal_differences=f.temporal_differences)


def prepare(cfg: DictConfig, featurizer: FilmFeaturizer | None = None) -> Prepared:
    """Load, split, and featurize every film with a featurizer fitted on the split's history only
    (or with ``featurizer``, already fitted, e.g. a checkpoint's)."""
    limit_threads(cfg.threads)
    films = load_data(cfg)
    split = build_split(cfg, films)
    log.info(split.describe())
    # Every loaded film's attributes (never its targets) may serve as an earlier film for temporal differences.
    featurizer = featurizer or build_featurizer(cfg).fit(films.iloc[split.history], catalog=films)
    raw = featurizer.transform_raw(films)
    return Prepared(films, split, featurizer, raw, featurizer.standardize(raw))


def build_stack(cfg: DictConfig, *, progress: bool = True) -> StackedEnsemble:
    """An unfitted P-EL stack from ``cfg.stack``, seeded from ``cfg.seed``, thread-capped by ``cfg.threads``."""
    s = cfg.stack
    overrides = OmegaConf.to_container(s.learners, resolve=True) or {}
    layers = [
        [make_learner(name, overrides.get(name), seed=cfg.seed * 100 + depth, threads=cfg.threads) for name in s.layer]
        for depth in range(s.n_layers)
    ]
    return StackedEnsemble(layers, n_folds=s.n_folds, passthrough=s.passthrough, selection_rounds=s.selection_rounds,
                           seed=cfg.seed, progress=progress)
