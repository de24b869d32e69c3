"""Release times as day numbers, with the uncertainty of year-only dates made explicit.

A film known only by its year may have come out any day of it. To stay strictly causal, a
history film counts as "before" a query film only if its *latest* possible day precedes the
query's *earliest* possible day.
"""

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.features.history import UNKNOWN_DAY

EPOCH = pd.Timestamp("1800-01-01")


def release_window(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(earliest, latest)`` possible release day of each film, int64 days since 1800; -1 where unknown."""
    dates = pd.to_datetime(frame[schema.RELEASE_DATE])
    years = pd.to_numeric(frame[schema.YEAR], errors="coerce").astype("float64")
    year_start = pd.to_datetime(years.astype("Int64").astype(str) + "-01-01", errors="coerce")
    year_end = pd.to_datetime(years.astype("Int64").astype(str) + "-12-31", errors="coerce")
    earliest = dates.fillna(year_start)
    latest = dates.fillna(year_end)
    return _days(earliest), _days(latest)


def _days(stamps: pd.Series) -> np.ndarray:
    days = ((stamps - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    return np.where(np.isnan(days), UNKNOWN_DAY, days).astype(np.int64)
