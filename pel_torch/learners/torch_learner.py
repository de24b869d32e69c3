"""Learners whose model is a torch module trained by minibatches: embeddings of ids, sequence models.

A subclass builds its module from the training inputs (``build``) and may add a penalty to the
squared error (``penalty``); this class holds out a share of the rows (``holdout_split``), trains with Adam
through the engine's one early-stopping loop, and predicts with the module itself, so the fitted
learner and the compiled stack compute the same thing.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
from pel_torch.learners.early_stopping import holdout_split, train_early_stopped


# What every subclass's DEFAULTS start from: Adam, minibatches, early stopping on a seeded holdout.
TRAINING = {"learning_rate": 3e-3, "batch_size": 512, "max_epochs": 60, "patience": 4, "holdout": 0.1}


class TorchLearner(Learner):
    strict_params = True
    DEFAULTS = TRAINING

    def __init__(self, params: dict | None = None, *, seed: int = 0, threads: int = 1, initial_module: nn.Module | None = None):
        super().__init__(params, seed=seed, threads=threads)
        self.initial_module = initial_module

    def clone(self, seed: int) -> "TorchLearner":
        return type(self)(self.params, seed=seed, threads=self.threads, initial_module=self.initial_module)

    def warm_start(self, pretrained: nn.Module) -> None:
        """Start from a pretrained module of the same shape (``finetune.strategy=refit``): its embeddings carry over."""
        self.initial_module = pretrained

    def build(self, X: np.ndarray, y: np.ndarray) -> nn.Module:
        raise NotImplementedError

    def penalty(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros((), dtype=torch.float32)

    def _fit(self, X, y):
        s = self.settings
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # initial weights draw from the global generator
        module = self.build(X, y)
        if self.initial_module is not None:
            self._start_from(module)
        train, holdout = holdout_split(len(X), s["holdout"], generator, self.times_)
        X_train, y_train = torch.from_numpy(X[train]), torch.from_numpy(y[train]).float()
        X_hold, y_hold = torch.from_numpy(X[holdout]), torch.from_numpy(y[holdout])
        optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=s["learning_rate"])

        def batch_loss(rows):
            x = X_train[rows]
            return nn.functional.mse_loss(module(x).float(), y_train[rows]) + self.penalty(module, x)

        train_early_stopped(module, optimizer, batch_loss, lambda: float(((module(X_hold).double() - y_hold) ** 2).mean()),
                            len(train), batch_size=s["batch_size"], max_epochs=s["max_epochs"], patience=s["patience"],
                            generator=generator)
        self.model_ = module.eval()
        return self

    def _start_from(self, module: nn.Module) -> None:
        """Load the pretrained module's weights where names and shapes agree (a new output may differ)."""
        own = module.state_dict()
        matching = {k: v for k, v in self.initial_module.state_dict().items() if k in own and own[k].shape == v.shape}
        if not matching:
            raise PelError(f"{self.name}: the pretrained {type(self.initial_module).__name__} shares no weight of this one's shape; "
                           f"fine-tune with the stack config it was pretrained with")
        module.load_state_dict(matching, strict=False)

    def predict(self, X):
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(X))).double().numpy()
