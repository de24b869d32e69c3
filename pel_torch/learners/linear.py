"""Ridge regression, the stack's member that extrapolates: trees predict within the targets they saw.

Under drift (a temporal split whose later films earn more) every tree learner is bounded by the
training targets; a linear model on the same inputs is not. Its ridge penalty is chosen per fit
by leave-one-out error (scikit-learn's ``RidgeCV``). Like the network, the fitted model *is* its
torch module, so its predictions and the compiled stack's are the same computation.
"""

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from torch import nn

from pel_torch.learners.base import Learner
from pel_torch.learners.precision import FixedPrecision


class LinearModel(FixedPrecision):
    """``(batch, n_inputs) -> (batch,)``: ``x @ weight + bias`` in float64, the precision it was fitted in."""

    def __init__(self, n_inputs: int):
        super().__init__()
        self.n_inputs = n_inputs
        self.weight = nn.Parameter(torch.zeros(n_inputs, dtype=torch.float64))
        self.bias = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def spec(self) -> dict:
        return {"n_inputs": self.n_inputs}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float64) @ self.weight + self.bias


class LinearLearner(Learner):
    name = "linear"
    strict_params = True
    DEFAULTS = {"alphas": (0.1, 1.0, 10.0, 100.0, 1000.0)}

    def _fit(self, X, y):
        ridge = RidgeCV(alphas=tuple(self.settings["alphas"])).fit(X.astype(np.float64), y)
        model = LinearModel(X.shape[1])
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(np.asarray(ridge.coef_, dtype=np.float64)))
            model.bias.fill_(float(ridge.intercept_))
        self.model_ = model.eval()
        return self

    def predict(self, X):
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(X))).numpy()
