"""Panels of time series (series on one calendar): from an event log, a long table, or a competition's arrays.

Policies, each counted in the ``CleaningReport`` or refused in one line naming the series, date or value:
- an event log (``timestamp, item[, categories][, count]``) becomes one series per category (``|``-
  separated; a film with several genres counts once in each), or per item where there are no
  categories; a period without events is 0 events;
- a long panel (``series_id, date, value``) keeps its values; a period missing inside a series' span
  is filled by linear interpolation between its neighbours (a missing record is not a zero);
- a negative value, two values for one series and period, an unknown frequency, a date that does
  not parse and an empty file are errors.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pel_torch.data.files import read_table
from pel_torch.data.ratings import parse_timestamps
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

# Frequency -> the seasonal period forecasters use: a week of days, a year of weeks, months or quarters.
PERIODS = {"D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1}


@dataclass
class Panel:
    """``values[i]``: series ``ids[i]`` oldest first; ``dates[i]``: its periods (None where the source has no
    calendar); ``test[i]``: its official future values where the source has them (a competition)."""

    ids: list[str]
    values: list[np.ndarray]
    freq: str
    period: int
    dates: list[pd.PeriodIndex] | None = None
    test: list[np.ndarray] | None = None
    report: CleaningReport = field(default_factory=lambda: CleaningReport("panel"))

    def __len__(self) -> int:
        return len(self.ids)

    def describe(self) -> str:
        lengths = [len(v) for v in self.values]
        return (f"{len(self):,} series, {min(lengths):,} to {max(lengths):,} {self.freq} periods each"
                + (f", {len(self.test[0])} held out" if self.test else ""))


def check_freq(freq: str) -> int:
    if freq not in PERIODS:
        raise DataError(f"freq={freq}: unknown frequency; choose one of {', '.join(PERIODS)} (day, week, month, quarter, year)")
    return PERIODS[freq]


def from_events(events: pd.DataFrame, freq: str, origin: str, report: CleaningReport | None = None) -> Panel:
    """``events``: ``timestamp`` (datetime), ``item``, optional ``categories`` and ``count``; one series per category."""
    period = check_freq(freq)
    report = report or CleaningReport(origin)
    if not len(events):
        raise DataError(f"{origin}: no events; expected rows of timestamp, item[, categories][, count]")
    counts = events["count"] if "count" in events else pd.Series(1.0, index=events.index)
    negative = counts < 0
    if negative.any():
        row = int(np.flatnonzero(negative.to_numpy())[0])
        raise DataError(f"{origin}: count {counts.iloc[row]:g} in row {row} is negative; volumes are counts of events, 0 or more")
    if "categories" in events:
        keys = events["categories"].fillna("").astype(str).str.split("|")
        long = pd.DataFrame({"series": keys, "when": events["timestamp"], "value": counts}).explode("series")
        long["series"] = long["series"].str.strip()
        report.note("categories", "events without a category: left out", int((long["series"] == "").sum()))
        long = long[long["series"] != ""]
    else:
        long = pd.DataFrame({"series": events["item"].astype(str), "when": events["timestamp"], "value": counts})
    long["when"] = long["when"].dt.tz_localize(None).dt.to_period(freq) if long["when"].dt.tz is not None else long["when"].dt.to_period(freq)
    table = long.groupby(["series", "when"])["value"].sum().unstack("when")
    span = pd.period_range(table.columns.min(), table.columns.max(), freq=freq)
    table = table.reindex(columns=span)
    report.note("value", f"{freq} periods without events inside the data's span: 0 events", int(table.isna().sum().sum()))
    table = table.fillna(0.0)
    return Panel(list(table.index), [row.to_numpy(dtype=np.float64) for _, row in table.iterrows()], freq, period,
                 [span] * len(table), report=report)


def from_long(frame: pd.DataFrame, freq: str, origin: str) -> Panel:
    """``frame``: ``series_id``, ``date`` and ``value`` columns (strings or numbers)."""
    period = check_freq(freq)
    report = CleaningReport(origin)
    if not len(frame):
        raise DataError(f"{origin}: no rows; expected series_id, date, value")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = values.isna() & frame["value"].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{origin}: value {frame['value'].iloc[row]!r} of series {frame['series_id'].iloc[row]} (row {row}) is not a number")
    if (values < 0).any():
        row = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise DataError(f"{origin}: value {values.iloc[row]:g} of series {frame['series_id'].iloc[row]} on {frame['date'].iloc[row]} "
                        "is negative; volumes are 0 or more")
    dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(f"{origin}: date {frame['date'].iloc[row]!r} of series {frame['series_id'].iloc[row]} (row {row}) does not parse; "
                        "use ISO dates (2024-01-31)")
    long = pd.DataFrame({"series": frame["series_id"].astype(str).str.strip(), "when": dates.dt.to_period(freq), "value": values})
    twice = long.duplicated(["series", "when"], keep=False)
    if twice.any():
        first = long[twice].iloc[0]
        raise DataError(f"{origin}: series {first['series']} has {int(twice.sum())} rows sharing a {freq} period, the first on {first['when']}; "
                        f"give one value per series and period (at freq={freq}, dates in one period collide)")
    ids, series, spans, filled = [], [], [], 0
    for name, rows in long.groupby("series", sort=True):
        span = pd.period_range(rows["when"].min(), rows["when"].max(), freq=freq)
        values = rows.set_index("when")["value"].reindex(span)
        filled += int(values.isna().sum())
        ids.append(name)
        series.append(values.interpolate(limit_area="inside").to_numpy(dtype=np.float64))
        spans.append(span)
    report.note("value", "periods missing inside a series: linearly interpolated", filled)
    return Panel(ids, series, freq, period, spans, report=report)


def read_long_panel(path: str | Path, freq: str, columns: dict | None = None) -> Panel:
    """A CSV or Parquet long panel; ``columns`` maps ours (series_id, date, value) to the file's."""
    check_freq(freq)
    mapping = {ours: theirs for ours, theirs in (columns or {}).items()}
    required = tuple(mapping.get(c, c) for c in ("series_id", "date", "value"))
    frame = read_table(path, what="long panel (series_id, date, value)", required=required,
                       hint="map yours with data.options.columns={series_id: ..., date: ..., value: ...}")
    return from_long(frame.rename(columns={theirs: ours for ours, theirs in mapping.items()}), freq, str(path))


def read_event_log(path: str | Path, freq: str, columns: dict | None = None) -> Panel:
    """A CSV or Parquet event log; ``columns`` maps ours (timestamp, item, categories, count) to the file's."""
    check_freq(freq)
    mapping = {ours: theirs for ours, theirs in (columns or {}).items()}
    frame = read_table(path, what="event log (timestamp, item[, categories][, count])",
                       required=tuple(mapping.get(c, c) for c in ("timestamp", "item")),
                       hint="map yours with data.options.columns={timestamp: ..., item: ...}")
    frame = frame.rename(columns={theirs: ours for ours, theirs in mapping.items()})
    origin = str(path)
    seconds, _ = parse_timestamps(frame["timestamp"])   # the ratings loader's rule: Unix seconds or a date
    if np.isnan(seconds).any():
        row = int(np.flatnonzero(np.isnan(seconds))[0])
        raise DataError(f"{origin}: timestamp {frame['timestamp'].iloc[row]!r} in row {row} is neither Unix seconds nor a date")
    events = frame.assign(timestamp=pd.to_datetime(seconds, unit="s"))
    if "count" in events:
        counts = pd.to_numeric(events["count"], errors="coerce")
        if counts.isna().any():
            row = int(np.flatnonzero(counts.isna().to_numpy())[0])
            raise DataError(f"{origin}: count {events['count'].iloc[row]!r} in row {row} is not a number")
        events["count"] = counts
    return from_events(events, freq, origin)
