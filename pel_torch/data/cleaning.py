"""Turn a source's renamed columns into the canonical table, applying one documented policy per quirk.

Policies (docs/data_quality.md explains the evidence behind each):
- strings are stripped; an empty string is missing, like NULL;
- a row without a title is dropped; repeated titles are kept (different films share titles);
- a non-numeric number or negative money is an error: the file is wrong, not the row;
- money below ``min_money`` dollars is a unit error (stored in millions or thousands) and becomes missing;
- runtimes outside (0, ``max_runtime``] minutes become missing;
- a rating with zero votes behind it is no rating;
- unparseable dates become missing and are counted; years outside the cinema era become missing;
- with ``jan1_is_placeholder`` a ``YYYY-01-01`` date keeps only its year (month and weekday unknown);
- a future release date on a film that already has a target is contradictory and becomes missing;
  future films without targets are kept: they are what users forecast;
- list items are stripped and de-duplicated in order; legacy MPAA labels map to today's;
- identical rows and repeated ids are dropped, keeping the first.
"""

import datetime as dt

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

FIRST_FILM_YEAR = 1880


def to_canonical(
    raw: pd.DataFrame,
    origin: str,
    *,
    jan1_is_placeholder: bool = False,
    min_money: float = 1000.0,
    max_runtime: float = 600.0,
    today: dt.date | None = None,
    drop_duplicates: bool = True,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Validate and clean ``raw`` (already renamed to canonical names) into the canonical table.

    ``origin`` names the file or source in every message. Columns absent from ``raw`` come back
    all-missing; columns that are not canonical are dropped. ``drop_duplicates=False`` keeps every
    row (batch prediction answers each input row). Returns the frame and the report.
    """
    if schema.TITLE not in raw.columns:
        raise DataError(
            f"{origin}: no '{schema.TITLE}' column (found: {', '.join(map(str, raw.columns[:12]))}); "
            "add one or map yours with columns={title: YOUR_COLUMN}"
        )
    today = today or dt.date.today()
    report = CleaningReport(origin)
    frame = pd.DataFrame(index=raw.index)
    for column in schema.TEXT_COLUMNS:
        frame[column] = _clean_text(raw[column], column, report) if column in raw else None
    for column in schema.LIST_COLUMNS:
        frame[column] = _clean_list(frame[column])
    frame["mpaa"] = _clean_mpaa(frame["mpaa"], report)
    for column in schema.NUMBER_COLUMNS:
        frame[column] = _parse_numbers(raw[column], column, origin) if column in raw else np.nan
    _apply_number_policies(frame, report, min_money=min_money, max_runtime=max_runtime)
    _apply_date_policies(frame, raw, report, jan1_is_placeholder=jan1_is_placeholder, today=today)
    frame = _drop_bad_rows(frame, report, drop_duplicates)
    return _with_canonical_dtypes(frame), report


def _clean_text(values: pd.Series, column: str, report: CleaningReport) -> pd.Series:
    present = values.notna()
    text = values[present].astype(str)
    stripped = text.str.strip()
    report.note(column, "stray whitespace stripped", int((stripped != text).sum()))
    blank = stripped == ""
    report.note(column, "empty strings read as missing", int(blank.sum()))
    out = pd.Series(None, index=values.index, dtype=object)
    out[present] = stripped.where(~blank, None).to_numpy(dtype=object)
    return out


def _clean_list(values: pd.Series) -> pd.Series:
    def tidy(text):
        if text is None:
            return None
        items = [item.strip() for item in text.split(schema.LIST_SEPARATOR)]
        items = list(dict.fromkeys(item for item in items if item))
        return schema.LIST_SEPARATOR.join(items) or None

    return values.map(tidy, na_action="ignore").astype(object)


def _clean_mpaa(values: pd.Series, report: CleaningReport) -> pd.Series:
    upper = values.map(lambda s: s.upper(), na_action="ignore")
    legacy = upper.isin(list(schema.MPAA_LEGACY))
    report.note("mpaa", "legacy labels mapped (M, GP, M/PG -> PG; X -> NC-17; unrated -> NR)", int(legacy.sum()))
    mapped = upper.where(~legacy, upper.map(schema.MPAA_LEGACY))
    unknown = mapped.notna() & ~mapped.isin(list(schema.MPAA_LABELS))
    report.note("mpaa", "unknown labels set missing", int(unknown.sum()))
    return mapped.where(~unknown, None).astype(object)


def _parse_numbers(values: pd.Series, column: str, origin: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype(float)
    else:
        text = values.astype(object).map(lambda v: str(v).strip().replace(",", ""), na_action="ignore")
        text = text.where(text != "", None)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & text.notna()
        if bad.any():
            row = bad.idxmax()
            raise DataError(
                f"{origin}: column '{column}' has non-numeric value {values[row]!r} (row {row}) "
                f"and {int(bad.sum()) - 1} more; use plain numbers (no currency symbols) or leave it empty"
            )
    if column in schema.MONEY_COLUMNS + ("runtime", "votes") and (numbers < 0).any():
        row = (numbers < 0).idxmax()
        raise DataError(
            f"{origin}: column '{column}' has negative value {numbers[row]:g} (row {row}); "
            f"{column} cannot be negative: fix the value or leave it empty"
        )
    return numbers.astype(float)


def _apply_number_policies(frame: pd.DataFrame, report: CleaningReport, *, min_money: float, max_runtime: float) -> None:
    for column in schema.MONEY_COLUMNS:
        tiny = frame[column] < min_money
        report.note(column, f"values below ${min_money:,.0f} set missing (unit errors: stored in millions or thousands)", int(tiny.sum()))
        frame.loc[tiny, column] = np.nan
    runtime = frame["runtime"]
    implausible = (runtime <= 0) | (runtime > max_runtime)
    report.note("runtime", f"values outside (0, {max_runtime:g}] minutes set missing", int(implausible.sum()))
    frame.loc[implausible, "runtime"] = np.nan
    unvoted = frame["rating"].notna() & (frame["votes"] == 0)
    report.note("rating", "ratings with zero votes behind them set missing", int(unvoted.sum()))
    frame.loc[unvoted, "rating"] = np.nan


def _apply_date_policies(frame, raw, report, *, jan1_is_placeholder: bool, today: dt.date) -> None:
    dates = _parse_dates(raw[schema.RELEASE_DATE], report) if schema.RELEASE_DATE in raw else pd.Series(pd.NaT, index=frame.index)
    years = pd.to_numeric(raw[schema.YEAR], errors="coerce") if schema.YEAR in raw else pd.Series(np.nan, index=frame.index)
    if schema.YEAR in raw:
        report.note("year", "unparseable years set missing", int((years.isna() & raw[schema.YEAR].notna() & (raw[schema.YEAR].astype(str).str.strip() != "")).sum()))
    if jan1_is_placeholder:
        placeholder = (dates.dt.month == 1) & (dates.dt.day == 1)
        report.note(schema.RELEASE_DATE, "YYYY-01-01 placeholders reduced to their year", int(placeholder.sum()))
        years = years.where(~placeholder | years.notna(), dates.dt.year)
        dates = dates.where(~placeholder)
    disagree = dates.notna() & years.notna() & (dates.dt.year != years)
    report.note(schema.YEAR, "years that contradict the release date replaced by the date's year", int(disagree.sum()))
    years = dates.dt.year.where(dates.notna(), years)
    implausible = (years < FIRST_FILM_YEAR) | (years > today.year + 10)
    report.note(schema.YEAR, f"years outside {FIRST_FILM_YEAR}..{today.year + 10} set missing", int(implausible.sum()))
    years = years.where(~implausible)
    dates = dates.where(~implausible)
    # Unreleased films often carry "0 votes": that is no evidence of a release.
    has_target = frame["revenue"].notna() | frame["rating"].notna() | (frame["votes"] > 0)
    future = dates > pd.Timestamp(today)
    report.note(schema.RELEASE_DATE, "future dates on films that already have a target set missing", int((future & has_target).sum()))
    report.note(schema.RELEASE_DATE, "future releases kept as films to forecast", int((future & ~has_target).sum()))
    years = years.where(~(future & has_target) | (years <= today.year))
    frame[schema.RELEASE_DATE] = dates.where(~(future & has_target))
    frame[schema.YEAR] = years


def _parse_dates(values: pd.Series, report: CleaningReport) -> pd.Series:
    text = values.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
    text = text.where(text != "", None)
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    rest = iso.isna() & text.notna()
    if rest.any():
        # Other sources write "12/25/2009", "25 Dec 2009", "2009-12-25T00:00:00": month first, like US trade data.
        iso[rest] = pd.to_datetime(text[rest], format="mixed", errors="coerce")
    unparsed = iso.isna() & text.notna()
    report.note(schema.RELEASE_DATE, "unparseable dates set missing", int(unparsed.sum()))
    return iso.astype("datetime64[ns]")


def _drop_bad_rows(frame: pd.DataFrame, report: CleaningReport, drop_duplicates: bool) -> pd.DataFrame:
    untitled = frame[schema.TITLE].isna()
    report.note(schema.TITLE, "rows without a title dropped", int(untitled.sum()))
    frame = frame[~untitled]
    if not drop_duplicates:
        return frame
    # Films without an id are named by their position so predictions can be traced back to input rows.
    unnamed = frame[schema.ID].isna().to_numpy()
    frame = frame.assign(**{schema.ID: frame[schema.ID].to_numpy(dtype=object)})
    frame.loc[unnamed, schema.ID] = [f"row-{i}" for i in np.flatnonzero(unnamed)]
    identical = frame.astype(str).duplicated()
    report.note("row", "identical rows dropped", int(identical.sum()))
    frame = frame[~identical]
    repeated = frame[schema.ID].notna() & frame[schema.ID].duplicated()
    report.note(schema.ID, "rows with a repeated id dropped (first kept)", int(repeated.sum()))
    return frame[~repeated].reset_index(drop=True)


def _with_canonical_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(schema.CANONICAL_COLUMNS)].copy()
    for column in schema.TEXT_COLUMNS:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    out[schema.RELEASE_DATE] = pd.to_datetime(out[schema.RELEASE_DATE]).astype("datetime64[ns]")
    out[schema.YEAR] = pd.array(out[schema.YEAR], dtype="Int64")
    for column in schema.NUMBER_COLUMNS:
        out[column] = out[column].astype("float64")
    return out
