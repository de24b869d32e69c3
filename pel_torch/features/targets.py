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
