"""Scoring a feature matrix on disk across processes with Lightning's DDP.

Features and predictions live in raw float64 files that every process maps on its own, so
nothing the size of the input is pickled to the workers or held in memory. Lightning's
distributed sampler pads uneven shards by repeating rows; a repeated row writes the same value
twice, so padding is harmless.
"""

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset


class MappedRows(Dataset):
    """Rows of a ``(n, n_features)`` float64 file, mapped lazily in whichever process reads them."""

    def __init__(self, path: Path, shape: tuple[int, int]):
        self.path, self.shape, self._rows = str(path), tuple(shape), None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._rows is None:
            self._rows = np.memmap(self.path, dtype=np.float64, mode="r", shape=self.shape)
        return torch.from_numpy(np.array(self._rows[index]))

    def __getstate__(self):
        return {**self.__dict__, "_rows": None}  # the map is reopened, never pickled


class MappedPredictionWriter(BasePredictionWriter):
    """Writes each batch's predictions at the batch's row indices of a ``(n,)`` float64 file."""

    def __init__(self, path: Path, n_rows: int):
        super().__init__(write_interval="batch")
        self.path, self.n_rows = str(path), n_rows

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        out = np.memmap(self.path, dtype=np.float64, mode="r+", shape=(self.n_rows,))
        out[np.asarray(batch_indices)] = prediction.double().cpu().numpy()
        out.flush()


def predict_mapped(trainer: pl.Trainer, module: pl.LightningModule, features: Path, shape: tuple[int, int],
                   predictions: Path, batch_size: int) -> np.ndarray:
    """Score the rows of ``features`` with ``module`` on every process of ``trainer``; ``(n,)`` float64."""
    np.memmap(predictions, dtype=np.float64, mode="w+", shape=(shape[0],)).flush()
    trainer.callbacks.append(MappedPredictionWriter(predictions, shape[0]))
    trainer.predict(module, DataLoader(MappedRows(features, shape), batch_size=batch_size), return_predictions=False)
    return np.array(np.memmap(predictions, dtype=np.float64, mode="r", shape=(shape[0],)))
