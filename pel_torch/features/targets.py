"""Targets on the scale models learn them: money and counts are log1p, ratings as they are."""

import numpy as np
import pandas as pd

from pel_torch.errors import PelError

LOG_TARGETS = frozenset({"revenue", "votes", "budget"})
TARGETS = ("rating", "votes", "revenue")


def target_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """``name`` from the canonical frame on its learning scale, float64 with NaN where unknown."""
    if name not in TARGETS:
        raise PelError(f"unknown target '{name}'; choose one of: {', '.join(TARGETS)}")
    values = frame[name].to_numpy(dtype="float64")
    return np.log1p(values) if name in LOG_TARGETS else values


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


class TargetScale:
    """A target on its learning scale (log1p for money and counts), standardised with training rows' mean and std."""

    def __init__(self, name: str, log: bool, mean: float, std: float):
        self.name, self.log, self.mean, self.std = name, log, float(mean), float(std)

    @classmethod
    def fit(cls, frame: pd.DataFrame, name: str, rows: np.ndarray) -> "TargetScale":
        values = target_values(frame, name)[rows]
        values = values[~np.isnan(values)]
        if len(values) < 2:
            raise PelError(f"only {len(values)} training films have '{name}'; cannot learn it")
        return cls(name, name in LOG_TARGETS, values.mean(), values.std() or 1.0)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Standardised target of every film, NaN where unknown."""
        return (target_values(frame, self.name) - self.mean) / self.std

    def decode(self, standardised: np.ndarray) -> np.ndarray:
        """Back to the target's own units (dollars for revenue)."""
        values = np.asarray(standardised) * self.std + self.mean
        return np.expm1(values) if self.log else values

    def to_dict(self) -> dict:
        return {"name": self.name, "log": self.log, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, spec: dict) -> "TargetScale":
        return cls(spec["name"], spec["log"], spec["mean"], spec["std"])
