"""A target on the scale models learn it: log1p for money and counts, then standardised."""

import numpy as np

from pel_torch.errors import PelError


class TargetScale:
    """``(log1p(values) if log else values - mean) / std``, with mean and std of the training rows."""

    def __init__(self, name: str, log: bool, mean: float, std: float):
        self.name, self.log, self.mean, self.std = name, log, float(mean), float(std)

    @classmethod
    def fit(cls, values: np.ndarray, rows: np.ndarray, name: str, log: bool) -> "TargetScale":
        """``values``: every row's target in its own units (NaN where unknown); ``rows``: the training rows."""
        known = _learning_scale(np.asarray(values, dtype=np.float64)[rows], log)
        known = known[~np.isnan(known)]
        if len(known) < 2:
            raise PelError(f"only {len(known)} training rows have '{name}'; cannot learn it")
        return cls(name, log, known.mean(), known.std() or 1.0)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Standardised target of every row, NaN where unknown."""
        return (_learning_scale(np.asarray(values, dtype=np.float64), self.log) - self.mean) / self.std

    def decode(self, standardised: np.ndarray) -> np.ndarray:
        """Back to the target's own units (dollars for revenue)."""
        values = np.asarray(standardised) * self.std + self.mean
        return np.expm1(values) if self.log else values

    def to_dict(self) -> dict:
        return {"name": self.name, "log": self.log, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, spec: dict) -> "TargetScale":
        return cls(spec["name"], spec["log"], spec["mean"], spec["std"])


def _learning_scale(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log1p(values) if log else values
