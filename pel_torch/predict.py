"""Batch inference from a checkpoint: stream a task's rows in chunks, write one output row per input row.

The task reads the rows and says which can be scored (``Task.prediction_rows``); rows that cannot
keep their place with an empty prediction and a ``reason``. The output is written to a temporary
file and renamed at the end, so an interrupted run leaves nothing half-written.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pel_torch.atomic import atomic_output, check_new_output
from pel_torch.checkpoint import Checkpoint
from pel_torch.errors import DataError
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, preferred_batch_size, select_kernels

if TYPE_CHECKING:
    import pytorch_lightning as pl  # only for the annotation: one-process prediction never imports Lightning


@dataclass
class PredictionSummary:
    rows: int
    scored: int
    output: Path

    @property
    def unscored(self) -> int:
        return self.rows - self.scored


def predict_file(checkpoint: Checkpoint, task, source: str | Path, output: str | Path, *, batch_size: int = 8192,
                 device: str = "cpu", overwrite: bool = False, trainer: "pl.Trainer | None" = None,
                 kernels: str = "auto") -> PredictionSummary:
    """Score every row of ``source`` (CSV or Parquet in ``task``'s format) with ``checkpoint``; write ``output`` (CSV).

    With a multi-process ``trainer`` (``trainer=ddp``) the inputs go to a temporary file first and
    Lightning's DDP scores them on every process; otherwise each chunk is scored as it is read.
    ``kernels``: which tree kernels score (``pel_torch.inference.select_kernels``): ``auto`` (the C++
    kernels on CPU), ``torch``, or ``compiled`` (``torch.compile``, a one-off compile of minutes).
    """
    source, output = Path(source), Path(output)
    if output.suffix.lower() != ".csv":
        raise DataError(f"{output}: predictions are written as CSV; use a .csv output path")
    check_new_output(output, overwrite=overwrite)
    if checkpoint.spec["target"]["name"] != task.main_target:
        raise DataError(f"{checkpoint.path}: a {checkpoint.spec['stage']} checkpoint predicts "
                        f"{checkpoint.spec['target']['name']}, not {task.main_target}; use a finetune or scratch checkpoint")
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    chunks = task.prediction_rows(checkpoint, source, batch_size)
    with atomic_output(output) as temporary, open(temporary, "w", newline="") as file:
        file.write(",".join(task.prediction_columns) + "\n")
        if trainer is None:
            model, kind = select_kernels(checkpoint.model, kernels, device)
            model_batch = min(batch_size, preferred_batch_size(model))  # chunks are read at batch_size
            frames = ((task.fill_predictions(frame, good, predict_batches(model, raw, batch_size=model_batch, device=device,
                                                                           pad=kind == "compiled"), scale), len(good))
                      for frame, good, raw in chunks)
        else:
            model, _ = select_kernels(checkpoint.model, "torch" if kernels == "compiled" else kernels, device)
            frames = _predict_distributed(trainer, task, model, chunks, scale, len(checkpoint.feature_names), batch_size, Path(temporary))
        rows = scored = 0
        for frame, n_scored in frames:
            frame.to_csv(file, header=False, index=False)
            rows += len(frame)
            scored += n_scored
        if rows == 0 or scored == 0:
            raise DataError(f"{source}: no usable rows ({rows} read, none scorable); see the README for the columns it needs")
    return PredictionSummary(rows, scored, output)


def _predict_distributed(trainer, task, model, chunks, scale, n_inputs, batch_size, beside: Path):
    """Spill rows and inputs to disk, score them in one DDP run, then stream the rows back out."""
    from pel_torch.distributed import predict_mapped
    from pel_torch.lit import PELModule

    with tempfile.TemporaryDirectory(dir=beside.parent, prefix=".predict-") as work:
        work = Path(work)
        n_scorable, row_files = 0, []
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
            predictions = predict_mapped(trainer, PELModule(model), work / "features.f64", (n_scorable, n_inputs),
                                         work / "predictions.f64", batch_size)
        for path in row_files:
            frame = pd.read_parquet(path)
            position = frame.pop("position").to_numpy()
            yield task.fill_predictions(frame, frame.index[position >= 0], predictions[position[position >= 0]], scale), int((position >= 0).sum())
