"""A tabular MLP in the spirit of AutoGluon's: batch-norm, ReLU, dropout, early stopping on a holdout.

The fitted network *is* its own torch module (``TabularMLP``), target scaling included, so
compiling it is the identity.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
from pel_torch.learners.early_stopping import holdout_split, train_early_stopped
from pel_torch.learners.precision import FixedPrecision


class TabularMLP(FixedPrecision):
    """``(batch, n_inputs) -> (batch,)``, predicting on the original target scale."""

    def __init__(self, n_inputs: int, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1):
        super().__init__()
        self.n_inputs, self.hidden, self.dropout = n_inputs, tuple(hidden), dropout
        blocks, width = [], n_inputs
        for size in hidden:
            blocks += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*blocks, nn.Linear(width, 1))
        self.register_buffer("y_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("y_std", torch.ones((), dtype=torch.float64))

    def spec(self) -> dict:
        return {"n_inputs": self.n_inputs, "hidden": list(self.hidden), "dropout": self.dropout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.body[0].weight.dtype
        return self.body(x.to(dtype)).squeeze(1) * self.y_std.to(dtype) + self.y_mean.to(dtype)


class NeuralNetLearner(Learner):
    """``initial_network``: a fitted ``TabularMLP`` to start from (transfer from pretraining) instead of random weights."""

    name = "neural_net"
    strict_params = True
    DEFAULTS = {"hidden": (256, 128), "dropout": 0.1, "learning_rate": 1e-3, "weight_decay": 1e-4,
                "batch_size": 256, "max_epochs": 200, "patience": 15, "holdout": 0.1}

    def __init__(self, params: dict | None = None, *, seed: int = 0, threads: int = 1, initial_network: TabularMLP | None = None):
        super().__init__(params, seed=seed, threads=threads)
        self.initial_network = initial_network

    def warm_start(self, pretrained: TabularMLP) -> None:
        self.initial_network = pretrained

    def clone(self, seed: int) -> "NeuralNetLearner":
        return type(self)(self.params, seed=seed, threads=self.threads, initial_network=self.initial_network)

    def _fit(self, X, y):
        s = self.settings
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # weight init and dropout draw from the global generator
        network = TabularMLP(X.shape[1], tuple(s["hidden"]), s["dropout"])
        if self.initial_network is not None:
            if self.initial_network.spec() != network.spec():
                raise PelError(f"neural_net: cannot start from a network of shape {self.initial_network.spec()}; "
                               f"this one needs {network.spec()}")
            network.load_state_dict(self.initial_network.state_dict())
        network.y_mean.fill_(float(np.mean(y)))
        network.y_std.fill_(float(np.std(y)) or 1.0)
        train, holdout = holdout_split(len(X), s["holdout"], generator, self.times_)
        X_train, y_train = torch.from_numpy(X[train]), torch.from_numpy((y[train] - np.mean(y)) / (np.std(y) or 1.0)).float()
        X_hold, y_hold = torch.from_numpy(X[holdout]), torch.from_numpy(y[holdout])
        optimizer = torch.optim.AdamW(network.parameters(), lr=s["learning_rate"], weight_decay=s["weight_decay"])

        def batch_loss(rows):
            return nn.functional.mse_loss(network.body(X_train[rows]).squeeze(1), y_train[rows])

        train_early_stopped(network, optimizer, batch_loss, lambda: float(((network(X_hold).double() - y_hold) ** 2).mean()),
                            len(train), batch_size=s["batch_size"], max_epochs=s["max_epochs"], patience=s["patience"],
                            generator=generator)
        self.model_ = network.eval()
        return self

    def predict(self, X):
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).double().numpy()
