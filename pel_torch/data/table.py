"""Any CSV or Parquet film table: already canonical, or mapped onto the canonical names."""

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.data.files import read_table
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError


def load_table(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    list_separator: str = schema.LIST_SEPARATOR,
    jan1_is_placeholder: bool = False,
    today: dt.date | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Load a film table from CSV or Parquet.

    ``columns`` maps canonical names to the file's own (``{"revenue": "Gross"}``); unmapped
    canonical names are taken as they are. ``list_separator`` is how the file joins list items.
    """
    frame = read_table(path, what="film table")
    frame = join_lists(_rename(frame, dict(columns or {}), Path(path)), list_separator)
    return to_canonical(frame, str(path), jan1_is_placeholder=jan1_is_placeholder, today=today)


def map_columns(frame: pd.DataFrame, columns: Mapping[str, str] | None, list_separator: str = schema.LIST_SEPARATOR) -> pd.DataFrame:
    """``frame`` with the file's own column names mapped onto canonical ones where the file uses them,
    and list cells joined with ``|``: a table in the training file's format, or already canonical."""
    mapping = {canonical: own for canonical, own in dict(columns or {}).items() if own in frame.columns}
    return join_lists(_rename(frame, mapping, Path("-")), list_separator)


def join_lists(frame: pd.DataFrame, list_separator: str) -> pd.DataFrame:
    if list_separator != schema.LIST_SEPARATOR:
        for column in schema.LIST_COLUMNS:
            if column in frame:
                frame[column] = frame[column].map(
                    lambda text: schema.LIST_SEPARATOR.join(text.split(list_separator)) if isinstance(text, str) else text
                )
    return frame


def _rename(frame: pd.DataFrame, columns: dict[str, str], path: Path) -> pd.DataFrame:
    unknown = sorted(set(columns) - set(schema.CANONICAL_COLUMNS))
    if unknown:
        raise DataError(
            f"{path}: columns mapping names unknown canonical column(s) {', '.join(unknown)}; "
            f"use keys from: {', '.join(schema.CANONICAL_COLUMNS)}"
        )
    for canonical, own in columns.items():
        if own not in frame.columns:
            raise DataError(
                f"{path}: columns mapping sends '{canonical}' to '{own}', which is not a column of the file "
                f"(found: {', '.join(map(str, frame.columns[:15]))}); fix the mapping"
            )
    # The mapping wins over a same-named column the file happens to have.
    shadowed = [c for c in columns if c in frame.columns and columns[c] != c]
    return frame.drop(columns=shadowed).rename(columns={own: canonical for canonical, own in columns.items()})
