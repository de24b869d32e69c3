"""The stack as plain ``nn.Module``s: standardise -> layers of bagged learners -> selection head.

Nothing here knows about the libraries or Lightning; ``pel_torch.compile`` fills these modules
from a fitted ``StackedEnsemble``.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.learners.precision import only_predicting


def _float64_bits(values) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64).view(np.int64).copy())


class Standardize(nn.Module):
    """``(raw - mean) / std`` in float64, exactly as the featurizer computes it.

    Mean and std are kept as int64 bit patterns so ``module.float()`` cannot round them: the
    standardised values must be bit-identical to the ones the learners were fitted on.
    """

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean_bits", torch.zeros(n_features, dtype=torch.int64))
        self.register_buffer("std_bits", torch.zeros(n_features, dtype=torch.int64))

    @classmethod
    def from_arrays(cls, mean: np.ndarray, std: np.ndarray) -> "Standardize":
        module = cls(len(mean))
        module.mean_bits.copy_(_float64_bits(mean))
        module.std_bits.copy_(_float64_bits(std))
        return module

    def spec(self) -> dict:
        return {"n_features": len(self.mean_bits)}

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw.to(torch.float64) - self.mean_bits.view(torch.float64)) / self.std_bits.view(torch.float64)


class BaggedModule(nn.Module):
    """The average of k fold models: ``(batch, n_inputs) -> (batch,)``, in float64 like the native bagger.

    ``columns``: which columns of the layer's input this learner reads (``Learner.inputs``); None
    for all of them, the case of every learner of a film stack.
    """

    def __init__(self, folds: list[nn.Module], columns: list[int] | None = None):
        super().__init__()
        self.folds = nn.ModuleList(folds)
        self.columns = None if columns is None else list(columns)
        if columns is not None:
            self.register_buffer("column_index", torch.tensor(columns, dtype=torch.int64), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.columns is not None:
            x = x.index_select(1, self.column_index)
        return torch.stack([fold(x).to(torch.float64) for fold in self.folds], dim=1).mean(dim=1)


class StackLayer(nn.Module):
    """Learners side by side: ``(batch, n_inputs) -> (batch, n_models)`` in ``dtype``."""

    def __init__(self, learners: list[nn.Module], names: list[str]):
        super().__init__()
        self.learners = nn.ModuleList(learners)
        self.names = list(names)

    def forward(self, x: torch.Tensor, dtype: torch.dtype, computed: list[bool] | None = None) -> torch.Tensor:
        return side_by_side(self.learners, x, dtype, computed)


def side_by_side(models, x: torch.Tensor, dtype: torch.dtype, computed: list[bool] | None = None) -> torch.Tensor:
    """``(batch, n_models)``: each model's output in ``dtype``. ``computed`` (``EnsembleSelection.models_to_run``):
    which models to run; the others' columns are 0 without running them."""
    return torch.stack([model(x).to(dtype) if computed is None or computed[k] else x.new_zeros(len(x), dtype=dtype)
                        for k, model in enumerate(models)], dim=1)


class EnsembleSelection(nn.Module):
    """A trainable weighted sum ``(batch, n_models) -> (batch,)``; weights are clipped at 0 and normalised.

    ``group_columns``: one-hot columns of the raw input; the column that is set picks the row's weights
    (``weights`` is then ``(n_groups, n_models)``). None: one set of weights for every row."""

    def __init__(self, n_models: int, group_columns: list[int] | None = None):
        super().__init__()
        self.group_columns = None if group_columns is None else list(group_columns)
        shape = (n_models,) if group_columns is None else (len(self.group_columns), n_models)
        self.weights = nn.Parameter(torch.full(shape, 1.0 / n_models, dtype=torch.float64))
        if group_columns is not None:
            self.register_buffer("group_index", torch.tensor(self.group_columns, dtype=torch.int64), persistent=False)

    def spec(self) -> dict:
        return {"n_models": self.weights.shape[-1], **({"group_columns": self.group_columns} if self.group_columns is not None else {})}

    def normalised_weights(self) -> torch.Tensor:
        positive = self.weights.clamp_min(0)
        return positive / positive.sum(dim=-1, keepdim=True)

    def mean_weights(self) -> torch.Tensor:
        """``(n_models,)``: the weights, averaged over the groups where there are groups (for reading, not computing)."""
        weights = self.normalised_weights()
        return weights if weights.ndim == 1 else weights.mean(dim=0)

    def models_to_run(self) -> list[bool] | None:
        """Per model, whether to compute it; None: every one. Predicting, a model no row's weights give more than 0
        is skipped: ensemble selection often leaves several at 0. Fine-tuning runs them all, since a weight at 0 may
        grow; tracing for export does too, as the choice reads the weights' values."""
        if not only_predicting():
            return None
        return (self.normalised_weights().reshape(-1, self.weights.shape[-1]) > 0).any(dim=0).tolist()

    def forward(self, predictions: torch.Tensor, raw: torch.Tensor | None = None) -> torch.Tensor:
        if self.group_columns is None:
            return predictions @ self.normalised_weights()
        group = raw.index_select(1, self.group_index).argmax(dim=1)
        return (predictions * self.normalised_weights()[group]).sum(dim=1)


class Stack(nn.Module):
    """The whole compiled P-EL stack: raw features ``(batch, n_features)`` -> prediction ``(batch,)``.

    Layer l+1 sees ``concat(predictions of layer l, Z)`` when ``passthrough`` (the residual
    connection of the paper's eq. 4). The compute dtype is the head's (``module.double()`` /
    ``.float()``); tree splits always compare float32 values, as the libraries do.
    """

    def __init__(self, standardize: Standardize, layers: list[StackLayer], head: EnsembleSelection, passthrough: bool = True):
        super().__init__()
        self.standardize = standardize
        self.layers = nn.ModuleList(layers)
        self.head = head
        self.passthrough = passthrough

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer_outputs(raw, self.head.models_to_run())[-1], raw)

    def layer_outputs(self, raw: torch.Tensor, last_computed: list[bool] | None = None) -> list[torch.Tensor]:
        """Every layer's predictions ``(batch, n_models)``, for inspection and per-learner parity.
        ``last_computed``: which of the last layer's learners to run (``StackLayer.forward``); None: all."""
        dtype = self.head.weights.dtype
        z = self.standardize(raw).to(dtype)                   # (batch, n_features)
        inputs, outputs = z, []
        for depth, layer in enumerate(self.layers, start=1):
            predictions = layer(inputs, dtype, last_computed if depth == len(self.layers) else None)   # (batch, n_models)
            outputs.append(predictions)
            inputs = self._next_inputs(predictions, z)
        return outputs

    def _next_inputs(self, predictions: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([predictions, z], dim=1) if self.passthrough else predictions
