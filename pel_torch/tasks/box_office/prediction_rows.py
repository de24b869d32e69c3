"""Batch prediction's rows for box office: each input film, scorable or with the reason it is not.

Rows that cannot be scored (no title, a non-numeric or negative number) keep their place in the
output with an empty prediction and a reason; they are never dropped.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.data.files import read_chunks
from pel_torch.data.table import map_columns
from pel_torch.errors import DataError
from pel_torch.tasks.box_office.featurizer import FilmFeaturizer

OUTPUT_COLUMNS = ("id", "title", "predicted_revenue_usd", "predicted_log1p_revenue", "reason")


def featurized_chunks(featurizer: FilmFeaturizer, source: Path, batch_size: int, options: dict):
    """Per chunk: the output frame (predictions empty), the scorable rows, and their raw features.

    ``options``: the training data's loader options; a file in the training file's own format
    (its ``columns`` mapping, its ``list_separator``) is read as that file was."""
    for chunk in read_chunks(source, batch_size, what="film table"):
        chunk = map_columns(chunk, options.get("columns"), options.get("list_separator", schema.LIST_SEPARATOR))
        yield _prepare_chunk(chunk, featurizer, str(source))


def _prepare_chunk(chunk, featurizer, origin) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    if schema.TITLE not in chunk.columns:
        raise DataError(f"{origin}: no '{schema.TITLE}' column; batch prediction needs canonical columns (see README)")
    chunk = chunk.reset_index(drop=True)
    reasons = _row_problems(chunk)
    # A film without an id keeps an empty one: the output has one row per input row, in input order.
    ids = chunk[schema.ID].map(lambda value: "" if pd.isna(value) else str(value)) if schema.ID in chunk else [""] * len(chunk)
    out = pd.DataFrame({"id": ids, "title": chunk[schema.TITLE], "predicted_revenue_usd": np.nan,
                        "predicted_log1p_revenue": np.nan, "reason": reasons})
    good = out.index[out["reason"] == ""]
    raw = np.empty((0, len(featurizer.feature_names_)))
    if len(good):
        films, _ = to_canonical(chunk.loc[good], origin, drop_duplicates=False)
        raw = featurizer.transform_raw(films)
    return out, good, raw


def _row_problems(chunk: pd.DataFrame) -> list[str]:
    """One reason per row, empty where the row can be scored."""
    reasons = pd.Series("", index=chunk.index, dtype=object)
    title = chunk[schema.TITLE].astype(object)
    reasons[title.isna() | (title.astype(str).str.strip() == "")] = "no title"
    for column in schema.NUMBER_COLUMNS:
        if column not in chunk:
            continue
        # Only present cells are read as text: a Parquet chunk may hold a column of floats, all NaN.
        present = chunk[column][chunk[column].notna()]
        text = present.astype(str).str.strip().str.replace(",", "")
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce").reindex(chunk.index)
        unreadable = (numbers.isna() & (text != "") & (text.str.lower() != "nan")).reindex(chunk.index, fill_value=False)
        bad = unreadable & (reasons == "")
        reasons[bad] = [f"{column} is not a number: {v!r}" for v in chunk.loc[bad, column]]
        if column in ("runtime", "votes") + schema.MONEY_COLUMNS:
            reasons[(numbers < 0) & (reasons == "")] = f"{column} is negative"
    return reasons.tolist()
