"""Batch inference from a checkpoint: stream a film table in chunks, write one output row per input row.

Rows that cannot be scored (no title, a non-numeric or negative number) get an empty prediction
and a reason; they are never dropped. The output is written to a temporary file and renamed at
the end, so an interrupted run leaves nothing half-written.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pel_torch.atomic import atomic_output
from pel_torch.checkpoint import Checkpoint
from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.errors import DataError
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches

OUTPUT_COLUMNS = ("id", "title", "predicted_revenue_usd", "predicted_log1p_revenue", "reason")


@dataclass
class PredictionSummary:
    rows: int
    scored: int
    output: Path

    @property
    def unscored(self) -> int:
        return self.rows - self.scored


def predict_file(checkpoint: Checkpoint, source: str | Path, output: str | Path, *, batch_size: int = 8192,
                 device: str = "cpu", overwrite: bool = False) -> PredictionSummary:
    """Score every film of ``source`` (canonical CSV or Parquet) with ``checkpoint``; write ``output`` (CSV)."""
    source, output = Path(source), Path(output)
    if output.suffix.lower() != ".csv":
        raise DataError(f"{output}: predictions are written as CSV; use a .csv output path")
    if output.exists() and not overwrite:
        raise DataError(f"{output}: already exists; choose another path or pass overwrite=true")
    if not output.parent.exists():
        raise DataError(f"{output.parent}: folder does not exist; create it first")
    if checkpoint.spec["target"]["name"] != "revenue":
        raise DataError(f"{checkpoint.path}: a {checkpoint.spec['stage']} checkpoint predicts "
                        f"{checkpoint.spec['target']['name']}, not box office; use a finetune or scratch checkpoint")
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    model = checkpoint.model.to(device)
    rows = scored = 0
    with atomic_output(output) as temporary, open(temporary, "w", newline="") as file:
        file.write(",".join(OUTPUT_COLUMNS) + "\n")
        for chunk in read_chunks(source, batch_size):
            frame = _score_chunk(chunk, rows, checkpoint, model, scale, batch_size, device, str(source))
            frame.to_csv(file, header=False, index=False)
            rows += len(chunk)
            scored += int(frame["reason"].eq("").sum())
        if rows == 0 or scored == 0:
            raise DataError(f"{source}: no usable rows ({rows} read, none scorable); each film needs at least a title "
                            "and numbers that parse")
    return PredictionSummary(rows, scored, output)


def read_chunks(path: Path, size: int) -> Iterator[pd.DataFrame]:
    """The file's rows ``size`` at a time, as strings (CSV) or the file's own types (Parquet)."""
    if not path.exists():
        raise DataError(f"{path}: file not found; check predict.input")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield batch.to_pandas()
    elif suffix == ".csv":
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty; expected a film table with a header row")
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=size)
    else:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet")


def _score_chunk(chunk, offset, checkpoint, model, scale, batch_size, device, origin) -> pd.DataFrame:
    if schema.TITLE not in chunk.columns:
        raise DataError(f"{origin}: no '{schema.TITLE}' column; batch prediction needs canonical columns (see README)")
    chunk = chunk.reset_index(drop=True)
    reasons = _row_problems(chunk)
    ids = chunk[schema.ID].astype(object).where(chunk[schema.ID].notna(), None) if schema.ID in chunk else pd.Series(None, index=chunk.index)
    ids = [value if value is not None else f"row-{offset + i}" for i, value in enumerate(ids)]
    out = pd.DataFrame({"id": ids, "title": chunk[schema.TITLE], "predicted_revenue_usd": np.nan,
                        "predicted_log1p_revenue": np.nan, "reason": reasons})
    good = out.index[out["reason"] == ""]
    if len(good):
        films, _ = to_canonical(chunk.loc[good], origin, drop_duplicates=False)
        standardised = predict_batches(model, checkpoint.featurizer.transform_raw(films), batch_size=batch_size, device=device)
        out.loc[good, "predicted_log1p_revenue"] = standardised * scale.std + scale.mean
        out.loc[good, "predicted_revenue_usd"] = scale.decode(standardised)
    return out


def _row_problems(chunk: pd.DataFrame) -> list[str]:
    """One reason per row, empty where the row can be scored."""
    reasons = pd.Series("", index=chunk.index, dtype=object)
    title = chunk[schema.TITLE].astype(object)
    reasons[title.isna() | (title.astype(str).str.strip() == "")] = "no title"
    for column in schema.NUMBER_COLUMNS:
        if column not in chunk:
            continue
        text = chunk[column].astype(object).map(lambda v: str(v).strip().replace(",", ""), na_action="ignore")
        numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = numbers.isna() & text.notna() & (text != "") & (text.str.lower() != "nan") & (reasons == "")
        reasons[bad] = [f"{column} is not a number: {v!r}" for v in chunk.loc[bad, column]]
        if column in ("runtime", "votes") + schema.MONEY_COLUMNS:
            reasons[(numbers < 0) & (reasons == "")] = f"{column} is negative"
    return reasons.tolist()
