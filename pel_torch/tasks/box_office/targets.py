"""Box office's targets: revenue to forecast; the rating and the year-standardised review count to pretrain on.

Money and counts are learned as log1p, ratings as they are. Targets are known only after release
and never become features, except as the track records of earlier films (``entities.py``).
"""

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.errors import PelError
from pel_torch.features.targets import TargetScale
from pel_torch.tasks.base import Prepared, TargetSet

LOG_TARGETS = frozenset({"revenue", "votes", "budget"})
TARGETS = ("rating", "votes", "revenue")
# rating: the critics' (or users') score; votes_year: the log review count standardised among films
# of the same years (raw counts drift with the years: docs/RESULTS.md measured them weaker).
PRETRAINING_TARGETS = ("rating", "votes_year")


def target_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """``name`` from the canonical frame on its learning scale, float64 with NaN where unknown."""
    if name not in TARGETS:
        raise PelError(f"unknown target '{name}'; choose one of: {', '.join(TARGETS)}")
    values = frame[name].to_numpy(dtype="float64")
    return np.log1p(values) if name in LOG_TARGETS else values


def target_scale(frame: pd.DataFrame, name: str, rows: np.ndarray) -> TargetScale:
    """``name``'s learning scale, standardised with the mean and std of ``rows``."""
    return TargetScale.fit(frame[name].to_numpy(dtype="float64"), rows, name, log=name in LOG_TARGETS)


def standardise_by_year(values: np.ndarray, years: np.ndarray, window: int = 2, min_films: int = 30) -> np.ndarray:
    """``values`` standardised against films released within ``window`` years of each film.

    Review counts drift with the years (more critics online, older films reviewed less): a count is
    only comparable with its contemporaries'. Years with fewer than ``min_films`` known values in
    their window, and films of unknown year, fall back to all films. Only the given rows are used,
    so a pretraining set that stops before the test period never sees test-period films.
    """
    values, years = np.asarray(values, dtype=np.float64), np.asarray(years, dtype=np.float64)
    known = ~np.isnan(values)
    out = (values - np.nanmean(values)) / (np.nanstd(values) or 1.0)
    for year in np.unique(years[~np.isnan(years)]):
        near = known & (np.abs(years - year) <= window)
        if near.sum() >= min_films:
            here = years == year
            out[here] = (values[here] - values[near].mean()) / (values[near].std() or 1.0)
    return out


def pretraining_set(prepared: Prepared, kind: str) -> TargetSet:
    """The split's pretraining films that have target ``kind``, with its standardised values (none if the table lacks it)."""
    if kind not in PRETRAINING_TARGETS:
        raise PelError(f"unknown pretraining target '{kind}'; choose from {', '.join(PRETRAINING_TARGETS)}")
    films, rows = prepared.table, prepared.split.pretrain
    column = "votes" if kind == "votes_year" else kind
    values = target_values(films, column)[rows]
    known = ~np.isnan(values)
    if known.sum() < 2:  # nothing to standardise with: the engine skips the target
        y, target = np.full(len(rows), np.nan), {"name": kind, "log": False, "mean": 0.0, "std": 1.0}
    elif kind == "votes_year":
        y = standardise_by_year(values, films[schema.YEAR].to_numpy(dtype="float64")[rows])
        target = {"name": kind, "log": False, "mean": 0.0, "std": 1.0}
    else:
        scale = target_scale(films, kind, rows)
        y, target = scale.encode(films[kind].to_numpy(dtype="float64"))[rows], scale.to_dict()
    known = ~np.isnan(y)
    rows = rows[known]
    return TargetSet(prepared.features[rows], y[known], target, prepared.ids[rows].tolist(), f"the '{column}' column")
