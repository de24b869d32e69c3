"""The one LightningModule: gradient fine-tuning, validation, test and prediction of a ``Forecaster``.

Stages that fit learners natively (pretrain, scratch, refit, prior) use it to evaluate and
predict; the ``leaves`` strategy also trains through it. The stack stays in eval mode while
training: with a few thousand films, batch-norm statistics and dropout of the pretrained
networks are kept, and only the chosen parameter groups move.
"""

import matplotlib

matplotlib.use("Agg")  # figures for TensorBoard, never a window

import matplotlib.pyplot as plt
import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, TreeEnsemble
from pel_torch.errors import PelError
from pel_torch.learners.neural_net import TabularMLP
from pel_torch.stack.forecaster import Forecaster
from pel_torch.stack.modules import EnsembleSelection, out_of_fold

PARAMETER_GROUPS = ("leaves", "network", "head", "output")


def parameter_groups(model: Forecaster) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters of ``model.stack`` by kind; the prior stack is never trained."""
    groups = {name: [] for name in PARAMETER_GROUPS}
    for module in model.stack.modules():
        if isinstance(module, (TreeEnsemble, PerfectTreeEnsemble, ObliviousEnsemble)):
            groups["leaves"] += list(module.parameters())
        elif isinstance(module, TabularMLP):
            groups["network"] += list(module.parameters())
        elif isinstance(module, EnsembleSelection):
            groups["head"] += list(module.parameters())
    groups["output"] = [model.output_scale, model.output_shift]
    return groups


def out_of_fold_loss(model: Forecaster, raw: torch.Tensor, y: torch.Tensor, folds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(head loss, learner loss)`` of fine-tuning as the stack was fitted, fold by fold.

    Each fold model learns the target from the rows outside its fold (through the output affine,
    held fixed there, so every learner keeps the scale the next layer splits on); the next layer
    and the head learn from each row's out-of-fold predictions (``Stack.fold_outputs``). The head
    loss also moves the affine and is the one comparable with validation.
    """
    scale, shift = model.output_scale, model.output_shift
    layers = model.stack.fold_outputs(model.stack_inputs(raw), folds)
    n_folds = layers[0][0].shape[1]
    fitted_on = folds.unsqueeze(1) != torch.arange(n_folds, device=folds.device)  # (batch, n_folds)
    learner_losses = [((scale.detach() * predictions + shift.detach() - y.unsqueeze(1)) ** 2)[fitted_on].mean()
                      for layer in layers for predictions in layer]
    # Detached like every layer's input: the head's loss must not teach a fold model its held-out rows.
    last = torch.stack([out_of_fold(predictions, folds) for predictions in layers[-1]], dim=1).detach()
    head_loss = nn.functional.mse_loss(scale * model.stack.head(last) + shift, y)
    return head_loss, torch.stack(learner_losses).mean()


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection({"r2": R2Score(), "mse": MeanSquaredError(), "mae": MeanAbsoluteError()}, prefix=prefix)


class PELModule(pl.LightningModule):
    """Wraps a ``Forecaster``; batches are ``(raw (batch, n_features) float64, y (batch,) float64)``."""

    def __init__(self, model: Forecaster, *, learning_rate: float = 1e-3, train: tuple[str, ...] = ("leaves", "network", "head", "output"),
                 weight_decay: float = 0.0, soft_splits: list | None = None, hparams: dict | None = None):
        """Training batches are ``(raw, y)``, or ``(raw, y, folds)`` to fine-tune out of fold (``out_of_fold_loss``)."""
        super().__init__()
        unknown = sorted(set(train) - set(PARAMETER_GROUPS))
        if unknown:
            raise PelError(f"finetune.train: unknown parameter group(s) {', '.join(unknown)}; choose from {', '.join(PARAMETER_GROUPS)}")
        self.model = model
        self.learning_rate, self.weight_decay, self.trained_groups = learning_rate, weight_decay, tuple(train)
        self.save_hyperparameters({**(hparams or {}), "learning_rate": learning_rate, "train": list(train), "weight_decay": weight_decay})
        self.val_metrics, self.test_metrics = _metrics("val/"), _metrics("test/")
        self._outputs: dict[str, list] = {"val": [], "test": []}
        groups = parameter_groups(model)
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        for name in self.trained_groups:
            for parameter in groups[name]:
                parameter.requires_grad_(True)
        # Registered here, not in the model: they move with this module to the device and into the
        # optimizer, while the model's checkpoint format stays that of hard trees.
        self.threshold_offsets = nn.ParameterList([soft.offset for soft in soft_splits or []])

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.model(raw)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()
        return self

    def training_step(self, batch, batch_index):
        if len(batch) == 3:
            raw, y, folds = batch
            loss, learner_loss = out_of_fold_loss(self.model, raw, y, folds)
            self.log("train/learner_loss", learner_loss, on_step=False, on_epoch=True, batch_size=len(y))
            total = loss + learner_loss
        else:
            raw, y = batch
            loss = total = nn.functional.mse_loss(self(raw), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return total

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
        weights = self.model.stack.head.normalised_weights().detach().cpu()
        names = self.model.stack.layers[-1].names
        experiment.add_scalars(f"{stage}/selection_weights", dict(zip(names, weights.tolist())), self.global_step)

    def configure_optimizers(self):
        parameters = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.Adam(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)


def scatter_figure(actual, prediction):
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    axes.scatter(actual, prediction, s=6, alpha=0.5)
    low, high = float(min(actual.min(), prediction.min())), float(max(actual.max(), prediction.max()))
    axes.plot([low, high], [low, high], color="grey", linewidth=1)
    axes.set_xlabel("actual (standardised log revenue)")
    axes.set_ylabel("predicted")
    figure.tight_layout()
    return figure
