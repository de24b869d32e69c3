"""Biased matrix factorisation: ``mean + b_user + b_film + p_user . q_film``, the recommender's baseline model.

Reads the ``user`` and ``item`` input groups: the last two columns of its input are the user's and
the film's indices, 0 for one the training ratings never showed; row 0 of every table is zero and
never trained, so an unknown user is predicted from the film alone, and the other way round.
"""

import torch
from torch import nn

from pel_torch.learners.precision import FixedPrecision
from pel_torch.learners.torch_learner import TRAINING, TorchLearner


def id_embedding(n: int, dim: int, std: float) -> nn.Embedding:
    table = nn.Embedding(n, dim, padding_idx=0)
    with torch.no_grad():
        table.weight.normal_(0.0, std)
        table.weight[0].zero_()
    return table


def known(ids: torch.Tensor, n: int) -> torch.Tensor:
    """Indices as int64, those beyond the table (a user no training rating showed) mapped to 0."""
    ids = ids.long()
    return torch.where((ids >= 0) & (ids < n), ids, torch.zeros_like(ids))


class MatrixFactorization(FixedPrecision):
    """``(batch, n_inputs)`` -> ``(batch,)``; the last two columns are user and film indices."""

    def __init__(self, n_users: int, n_items: int, dim: int = 64):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.bias = nn.Parameter(torch.zeros(()))
        self.user_bias, self.item_bias = id_embedding(n_users, 1, 0.0), id_embedding(n_items, 1, 0.0)
        self.user_factors, self.item_factors = id_embedding(n_users, dim, 0.05), id_embedding(n_items, dim, 0.05)

    def spec(self) -> dict:
        return {"n_users": self.n_users, "n_items": self.n_items, "dim": self.dim}

    def ids(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return known(x[:, -2], self.n_users), known(x[:, -1], self.n_items)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_factors(users)

    def embeddings(self) -> dict[str, torch.Tensor]:
        """Id group -> its learned vectors, row 0 the unknown id: what TensorBoard's projector shows."""
        return {"item": self.item_factors.weight, "user": self.user_factors.weight}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = self.ids(x)
        interaction = (self.user_vectors(users) * self.item_factors(items)).sum(dim=1)
        return self.bias + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1) + interaction


class MatrixFactorizationLearner(TorchLearner):
    """``regularization``: the L2 penalty on the batch's factors and biases, per rating (as in Funk's SVD)."""

    name = "mf"
    inputs = ("user", "item")
    DEFAULTS = {**TRAINING, "dim": 64, "regularization": 0.1}   # regularization: chosen on u1's validation ratings

    def build(self, X, y):
        return MatrixFactorization(self.sizes_["user"], self.sizes_["item"], self.settings["dim"])

    def penalty(self, module, x):
        users, items = module.ids(x)
        weights = (module.user_factors(users).square().sum(1) + module.item_factors(items).square().sum(1)
                   + module.user_bias(users).square().squeeze(1) + module.item_bias(items).square().squeeze(1))
        return self.settings["regularization"] * weights.mean()
