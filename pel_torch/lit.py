"""The one LightningModule: gradient fine-tuning, validation, test and prediction of a compiled model.

Stages that fit learners natively (pretrain, scratch, refit, prior) use it to evaluate and
predict; the ``leaves`` strategy also trains through it. The stack stays in eval mode while
training: with a few thousand rows, batch-norm statistics and dropout of the pretrained
networks are kept, and only the chosen parameter groups move.
"""

import copy

import matplotlib

matplotlib.use("Agg")  # figures for TensorBoard, never a window

import matplotlib.pyplot as plt
import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, TreeEnsemble
from pel_torch.errors import PelError
from pel_torch.stack.blend import ScaledStack
from pel_torch.stack.modules import BaggedModule, EnsembleSelection

PARAMETER_GROUPS = ("leaves", "network", "head", "output")
TREE_MODULES = (TreeEnsemble, PerfectTreeEnsemble, ObliviousEnsemble)


def parameter_groups(model: ScaledStack) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters of ``model.stack`` by kind: tree leaves, the other learners' weights
    (networks), the selection head, the output affine. The ``prior`` stack is never trained."""
    groups = {name: [] for name in PARAMETER_GROUPS}
    for module in model.stack.modules():
        if isinstance(module, BaggedModule):
            for fold in module.folds:
                groups["leaves" if isinstance(fold, TREE_MODULES) else "network"] += list(fold.parameters())
        elif isinstance(module, EnsembleSelection):
            groups["head"] += list(module.parameters())
    groups["output"] = [model.output_scale, model.output_shift]
    return groups


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection({"r2": R2Score(), "mse": MeanSquaredError(), "mae": MeanAbsoluteError()}, prefix=prefix)


class PELModule(pl.LightningModule):
    """Wraps a compiled model (``ScaledStack`` to fine-tune, any ``Blend`` to score); batches are
    ``(raw (batch, n_inputs) float64, y (batch,) float64)``."""

    def __init__(self, model: nn.Module, *, learning_rate: float = 1e-3, train: tuple[str, ...] = PARAMETER_GROUPS,
                 hparams: dict | None = None):
        super().__init__()
        unknown = sorted(set(train) - set(PARAMETER_GROUPS))
        if unknown:
            raise PelError(f"finetune.train: unknown parameter group(s) {', '.join(unknown)}; choose from {', '.join(PARAMETER_GROUPS)}")
        self.model = model
        self.learning_rate, self.trained_groups = learning_rate, tuple(train)
        self.save_hyperparameters({**(hparams or {}), "learning_rate": learning_rate, "train": list(train)})
        self.val_metrics, self.test_metrics = _metrics("val/"), _metrics("test/")
        self._outputs: dict[str, list] = {"val": [], "test": []}
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        if isinstance(model, ScaledStack):
            groups = parameter_groups(model)
            for name in self.trained_groups:
                for parameter in groups[name]:
                    parameter.requires_grad_(True)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.model(raw)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # fine-tuned as the function it was fitted as: its networks' dropout stays off
        return self

    def training_step(self, batch, batch_index):
        raw, y = batch
        loss = nn.functional.mse_loss(self(raw), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def validation_step(self, batch, batch_index):
        self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch, batch_index):
        self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch, batch_index):
        return self(batch[0] if isinstance(batch, (list, tuple)) else batch)

    def _evaluate(self, batch, stage: str, metrics: MetricCollection):
        raw, y = batch
        prediction = self(raw)
        self.log(f"{stage}/loss", nn.functional.mse_loss(prediction, y), on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)
        metrics.update(prediction, y)
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(y))
        self._outputs[stage].append((prediction.detach().cpu(), y.detach().cpu()))

    def on_validation_epoch_end(self):
        self._log_figures("val")

    def on_test_epoch_end(self):
        self._log_figures("test")

    def _log_figures(self, stage: str):
        outputs, self._outputs[stage] = self._outputs[stage], []
        experiment = getattr(self.logger, "experiment", None)
        if not outputs or experiment is None or not hasattr(experiment, "add_figure"):
            return
        prediction = torch.cat([p for p, _ in outputs]).numpy()
        actual = torch.cat([y for _, y in outputs]).numpy()
        experiment.add_figure(f"{stage}/predicted_vs_actual", scatter_figure(actual, prediction), self.global_step)
        experiment.add_scalars(f"{stage}/selection_weights", self.model.selection_weights(), self.global_step)

    def configure_optimizers(self):
        parameters = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(parameters, lr=self.learning_rate)


class BestWeights(pl.Callback):
    """Keeps the weights of the best validation loss and puts them back when fitting ends.

    Restoring inside ``on_fit_end`` (in every process) means that with ``ddp_spawn`` the weights
    Lightning sends back to the main process are already the best ones.
    """

    def __init__(self):
        self.best, self.state = np.inf, None

    def on_validation_end(self, trainer, module):
        loss = float(trainer.callback_metrics.get("val/loss", np.inf))
        if loss < self.best:
            self.best, self.state = loss, copy.deepcopy(module.model.state_dict())

    def on_fit_end(self, trainer, module):
        if self.state is not None:
            module.model.load_state_dict(self.state)


def rows_loader(raw: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """Batches ``(raw (batch, n_inputs) float64, y (batch,) float64)``; shuffled from ``seed`` if asked."""
    dataset = TensorDataset(torch.from_numpy(np.ascontiguousarray(raw)), torch.from_numpy(np.ascontiguousarray(y)))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def scatter_figure(actual, prediction):
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.scatter(actual, prediction, s=6, alpha=0.5)
    low, high = float(min(actual.min(), prediction.min())), float(max(actual.max(), prediction.max()))
    axes.plot([low, high], [low, high], color="grey", linewidth=1)
    axes.set_xlabel("actual (standardised target)")
    axes.set_ylabel("predicted")
    figure.tight_layout()
    return figure
