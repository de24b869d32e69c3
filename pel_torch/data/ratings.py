"""The canonical ratings table: who rated which film, how, and when; the ratings task's data.

Policies (each fix is counted in the ``CleaningReport``):
- ``user``, ``item`` and ``rating`` are required; ``timestamp`` (Unix seconds or an ISO date) is optional;
- a rating that is not a number, or is outside the declared scale, is an error: the file is wrong;
- a timestamp that does not parse is an error, naming the row;
- a (user, film) pair rated twice keeps its latest rating (by timestamp, then file order), counted;
- ``line`` keeps each rating's position in the file, so splits defined on file order (GroupLens's
  u1..u5) can be rebuilt, and ties in time break the same way every run.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

REQUIRED = ("user", "item", "rating")
COLUMNS = ("user", "item", "rating", "timestamp", "line")


@dataclass
class RatingsData:
    """``ratings``: one row per (user, film), columns ``COLUMNS``; ``users`` and ``items``: side tables
    keyed by ``user`` / ``item`` (None where the source has none); ``items`` holds ``title``, ``year``, ``genres``."""

    ratings: pd.DataFrame
    users: pd.DataFrame | None
    items: pd.DataFrame | None
    report: CleaningReport = field(default_factory=lambda: CleaningReport("ratings"))


def to_ratings_table(raw: pd.DataFrame, origin: str, *, scale: tuple[float, float] = (1.0, 5.0),
                     report: CleaningReport | None = None) -> tuple[pd.DataFrame, CleaningReport]:
    """Validate ``raw`` (already renamed to ``user, item, rating[, timestamp]``) into the canonical ratings table."""
    report = report or CleaningReport(origin)
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, raw.columns[:12]))}); "
                        "map yours with data.options.columns={user: YOUR_USER, item: YOUR_FILM, rating: YOUR_RATING}")
    if not len(raw):
        raise DataError(f"{origin}: no ratings; expected rows of user, item, rating[, timestamp]")
    frame = pd.DataFrame({"user": _ids(raw["user"], "user", origin), "item": _ids(raw["item"], "item", origin),
                          "rating": _ratings(raw["rating"], origin, scale),
                          "timestamp": _timestamps(raw["timestamp"], origin) if "timestamp" in raw else np.nan,
                          "line": np.arange(len(raw), dtype=np.int64)})
    order = frame.sort_values(["timestamp", "line"], na_position="first").index
    latest = ~frame.loc[order].duplicated(["user", "item"], keep="last")
    report.note("user, item", "pairs rated more than once: kept the latest rating", int((~latest).sum()))
    frame = frame.loc[np.sort(order[latest.to_numpy()])].reset_index(drop=True)
    return frame, report


def _ids(values: pd.Series, column: str, origin: str) -> pd.Series:
    ids = normalise_ids(values)
    empty = ids == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataError(f"{origin}: column '{column}' is empty in row {row}; every rating needs a {column}")
    return ids


def normalise_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings, "" where missing; 1.0 and 1 are the same id, so integral floats lose their ".0"."""
    text = values.astype(str).str.strip()
    text = text.where(values.notna() & (text.str.lower() != "nan"), "")
    return text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def _ratings(values: pd.Series, origin: str, scale: tuple[float, float]) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{origin}: column 'rating' has non-numeric value {values.iloc[row]!r} (row {row}); ratings must be numbers")
    low, high = scale
    outside = (numbers < low) | (numbers > high)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(f"{origin}: rating {numbers[row]:g} in row {row} is outside the declared scale [{low:g}, {high:g}] "
                        f"({int(outside.sum())} such rows); fix the file or declare its scale: data.options.scale=[LOW,HIGH]")
    return numbers


def _timestamps(values: pd.Series, origin: str) -> np.ndarray:
    seconds, bad = parse_timestamps(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{origin}: column 'timestamp' has {values.iloc[row]!r} in row {row}, neither Unix seconds nor a date; "
                        "fix it or leave the cell empty")
    return seconds


def parse_timestamps(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds (float64, NaN where absent) from numbers or date strings, and where a present value did not parse."""
    present = values.notna() & (values.astype(str).str.strip() != "")
    numbers = pd.to_numeric(values, errors="coerce")
    dates = pd.to_datetime(values.where(numbers.isna()), errors="coerce", utc=True, format="mixed")
    seconds = numbers.astype("float64").where(numbers.notna(), (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds())
    return seconds.to_numpy(dtype=np.float64), (present & seconds.isna()).to_numpy()
