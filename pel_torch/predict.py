"""Batch inference from a checkpoint: stream a film table in chunks, write one output row per input row.

Rows that cannot be scored (no title, a non-numeric or negative number) get an empty prediction
and a reason; they are never dropped. The output is written to a temporary file and renamed at
the end, so an interrupted run leaves nothing half-written.
"""

import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pel_torch.atomic import atomic_output, check_new_output
from pel_torch.checkpoint import Checkpoint
from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.errors import DataError
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, preferred_batch_size, select_kernels

if TYPE_CHECKING:
    import pytorch_lightning as pl  # only for the annotation: one-process prediction never imports Lightning

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
                 device: str = "cpu", overwrite: bool = False, trainer: "pl.Trainer | None" = None,
                 kernels: str = "auto") -> PredictionSummary:
    """Score every film of ``source`` (canonical CSV or Parquet) with ``checkpoint``; write ``output`` (CSV).

    With a multi-process ``trainer`` (``trainer=ddp``) the features go to a temporary file first and
    Lightning's DDP scores them on every process; otherwise each chunk is scored as it is read.
    ``kernels``: which tree kernels score (``pel_torch.inference.select_kernels``): ``auto`` (the C++
    kernels on CPU), ``torch``, or ``compiled`` (``torch.compile``, a one-off compile of minutes).
    """
    source, output = Path(source), Path(output)
    if output.suffix.lower() != ".csv":
        raise DataError(f"{output}: predictions are written as CSV; use a .csv output path")
    check_new_output(output, overwrite=overwrite)
    if checkpoint.spec["target"]["name"] != "revenue":
        raise DataError(f"{checkpoint.path}: a {checkpoint.spec['stage']} checkpoint predicts "
                        f"{checkpoint.spec['target']['name']}, not box office; use a finetune or scratch checkpoint")
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    chunks = _featurized_chunks(checkpoint, source, batch_size)
    with atomic_output(output) as temporary, open(temporary, "w", newline="") as file:
        file.write(",".join(OUTPUT_COLUMNS) + "\n")
        if trainer is None:
            model, kind = select_kernels(checkpoint.model, kernels, device)
            model_batch = min(batch_size, preferred_batch_size(model))  # chunks are read at batch_size
            frames = (_fill(frame, good, predict_batches(model, raw, batch_size=model_batch, device=device, pad=kind == "compiled"), scale)
                      for frame, good, raw in chunks)
        else:
            model, _ = select_kernels(checkpoint.model, "torch" if kernels == "compiled" else kernels, device)
            frames = _predict_distributed(trainer, checkpoint, model, chunks, scale, batch_size, Path(temporary))
        rows = scored = 0
        for frame in frames:
            frame.to_csv(file, header=False, index=False)
            rows += len(frame)
            scored += int(frame["reason"].eq("").sum())
        if rows == 0 or scored == 0:
            raise DataError(f"{source}: no usable rows ({rows} read, none scorable); each film needs at least a title "
                            "and numbers that parse")
    return PredictionSummary(rows, scored, output)


def _featurized_chunks(checkpoint: Checkpoint, source: Path, batch_size: int):
    """Per chunk: the output frame (predictions empty), the scorable rows, and their raw features."""
    offset = 0
    for chunk in read_chunks(source, batch_size):
        frame, good, raw = _prepare_chunk(chunk, offset, checkpoint, str(source))
        offset += len(chunk)
        yield frame, good, raw


def _fill(frame: pd.DataFrame, good: pd.Index, standardised: np.ndarray, scale: TargetScale) -> pd.DataFrame:
    frame.loc[good, "predicted_log1p_revenue"] = standardised * scale.std + scale.mean
    frame.loc[good, "predicted_revenue_usd"] = scale.decode(standardised)
    return frame


def _predict_distributed(trainer, checkpoint, model, chunks, scale, batch_size, beside: Path):
    """Spill rows and features to disk, score them in one DDP run, then stream the rows back out."""
    from pel_torch.distributed import predict_mapped
    from pel_torch.lit import PELModule

    with tempfile.TemporaryDirectory(dir=beside.parent, prefix=".predict-") as work:
        work = Path(work)
        n_scorable, n_features, row_files = 0, len(checkpoint.featurizer.feature_names_), []
        with open(work / "features.f64", "wb") as features:
            for index, (frame, good, raw) in enumerate(chunks):
                raw.astype(np.float64).tofile(features)
                frame["position"] = -1
                frame.loc[good, "position"] = np.arange(n_scorable, n_scorable + len(good))
                n_scorable += len(good)
                row_files.append(work / f"rows-{index}.parquet")
                frame.to_parquet(row_files[-1], index=False)  # parquet keeps ids and titles exactly as read
        predictions = np.empty(0)
        if n_scorable:
            predictions = predict_mapped(trainer, PELModule(model), work / "features.f64", (n_scorable, n_features),
                                         work / "predictions.f64", batch_size)
        for path in row_files:
            frame = pd.read_parquet(path)
            position = frame.pop("position").to_numpy()
            yield _fill(frame, frame.index[position >= 0], predictions[position[position >= 0]], scale)


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


def _prepare_chunk(chunk, offset, checkpoint, origin) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    if schema.TITLE not in chunk.columns:
        raise DataError(f"{origin}: no '{schema.TITLE}' column; batch prediction needs canonical columns (see README)")
    chunk = chunk.reset_index(drop=True)
    reasons = _row_problems(chunk)
    ids = chunk[schema.ID].astype(object).where(chunk[schema.ID].notna(), None) if schema.ID in chunk else pd.Series(None, index=chunk.index)
    ids = [str(value) if value is not None else f"row-{offset + i}" for i, value in enumerate(ids)]
    out = pd.DataFrame({"id": ids, "title": chunk[schema.TITLE], "predicted_revenue_usd": np.nan,
                        "predicted_log1p_revenue": np.nan, "reason": reasons})
    good = out.index[out["reason"] == ""]
    raw = np.empty((0, len(checkpoint.featurizer.feature_names_)))
    if len(good):
        films, _ = to_canonical(chunk.loc[good], origin, drop_duplicates=False)
        raw = checkpoint.featurizer.transform_raw(films)
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
