"""Box-office splits and the pretraining set that goes with each, free of look-ahead.

The box-office films (those with revenue) are split into train / validation / test. The
pretraining set is what a forecaster could have known while the box-office model is judged:
- random split: every rated film except the box-office validation and test films;
- temporal split: only rated films released before the validation period starts.
Letting rated films from the test years into pretraining inflated an apparent transfer gain
from -0.006 to +0.023 R2 in the reference harness, so the temporal rule is strict.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.errors import PelError

SPLITS = ("random", "temporal")


@dataclass(frozen=True)
class Split:
    """Row positions into the canonical frame; ``history`` is what a featurizer may be fitted on."""

    kind: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    pretrain: np.ndarray
    val_from: int | None = None
    test_from: int | None = None

    def __post_init__(self):
        held_out = np.union1d(self.val, self.test)
        for name in ("train", "pretrain"):
            if np.intersect1d(getattr(self, name), held_out).size:
                raise AssertionError(f"{name} overlaps the held-out films; the split is leaking")

    @property
    def history(self) -> np.ndarray:
        return np.union1d(self.pretrain, self.train)

    def describe(self) -> str:
        period = f" (validation from {self.val_from}, test from {self.test_from})" if self.val_from else ""
        return (f"{self.kind} split{period}: train {len(self.train):,}, validation {len(self.val):,}, "
                f"test {len(self.test):,} box-office films; pretraining set {len(self.pretrain):,} films")


def make_split(frame: pd.DataFrame, kind: str, *, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
               val_from: int | None = None, test_from: int | None = None,
               target: str = "revenue", pretrain_targets: tuple[str, ...] = ("rating", "votes")) -> Split:
    """Split ``frame``'s films that have ``target``; see the module doc for the pretraining rule."""
    if kind not in SPLITS:
        raise PelError(f"unknown split '{kind}'; choose one of: {', '.join(SPLITS)}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise PelError(f"split fractions val={val_fraction}, test={test_fraction} must be in (0, 1) and sum below 1")
    labelled = np.flatnonzero(frame[target].notna().to_numpy())
    rated = frame[list(pretrain_targets)].notna().any(axis=1).to_numpy()
    if len(labelled) < 10:
        raise PelError(f"only {len(labelled)} films have '{target}'; at least 10 are needed to split")
    if kind == "random":
        return _random(labelled, rated, seed, val_fraction, test_fraction)
    years = pd.to_numeric(frame[schema.YEAR], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return _temporal(labelled, rated, years, val_fraction, test_fraction, val_from, test_from)


def _random(labelled, rated, seed, val_fraction, test_fraction) -> Split:
    shuffled = np.random.default_rng(seed).permutation(labelled)
    n_test = int(round(test_fraction * len(shuffled)))
    n_val = int(round(val_fraction * len(shuffled)))
    test, val, train = shuffled[:n_test], shuffled[n_test:n_test + n_val], shuffled[n_test + n_val:]
    pretrain = np.setdiff1d(np.flatnonzero(rated), np.union1d(val, test))
    return Split("random", np.sort(train), np.sort(val), np.sort(test), pretrain)


def _temporal(labelled, rated, years, val_fraction, test_fraction, val_from, test_from) -> Split:
    dated = labelled[~np.isnan(years[labelled])]
    if not len(dated):
        raise PelError("temporal split: no box-office film has a year or release date; use split=random")
    if val_from is not None and test_from is not None and not val_from < test_from:
        raise PelError(f"temporal split needs split.val_from < split.test_from, got {val_from} and {test_from}; set them in that order")
    if test_from is None:
        test_from = int(np.quantile(years[dated], 1 - test_fraction, method="nearest"))
    if val_from is None:
        val_from = int(np.quantile(years[dated], 1 - test_fraction - val_fraction, method="nearest"))
    if not val_from < test_from:
        first, last = int(np.nanmin(years[dated])), int(np.nanmax(years[dated]))
        span = f"every box-office film is from {first}" if first == last else f"the box-office films span only {first}-{last}"
        raise PelError(f"temporal split: {span}, too few years to hold out later films (val_from={val_from}, "
                       f"test_from={test_from}); use split=random, or set split.val_from < split.test_from")
    year = years[dated]
    train, val, test = dated[year < val_from], dated[(year >= val_from) & (year < test_from)], dated[year >= test_from]
    for name, part in (("train", train), ("validation", val), ("test", test)):
        if not len(part):
            raise PelError(f"temporal split with val_from={val_from}, test_from={test_from} leaves no {name} films; choose other years")
    # Year-only dates are the whole year wide, so "before the validation period" means an earlier year.
    pretrain = np.flatnonzero(rated & (years < val_from))
    return Split("temporal", train, val, test, pretrain, val_from, test_from)
