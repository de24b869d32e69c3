"""NeuMF (He et al. 2017): a generalised matrix factorisation and an MLP over user and film embeddings, side by side.

For explicit ratings the output is linear (no sigmoid), with the same biases as biased MF so the
network learns the interaction on top of them.
"""

import torch
from torch import nn

from pel_torch.learners.matrix_factorization import MatrixFactorizationLearner, id_embedding, known
from pel_torch.learners.precision import FixedPrecision
from pel_torch.learners.torch_learner import TRAINING


class NeuMF(FixedPrecision):
    """``(batch, n_inputs)`` -> ``(batch,)``; the last two columns are user and film indices."""

    def __init__(self, n_users: int, n_items: int, dim: int = 32, hidden: tuple[int, ...] = (64, 32)):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.hidden = n_users, n_items, dim, tuple(hidden)
        self.bias = nn.Parameter(torch.zeros(()))
        self.user_bias, self.item_bias = id_embedding(n_users, 1, 0.0), id_embedding(n_items, 1, 0.0)
        self.user_gmf, self.item_gmf = id_embedding(n_users, dim, 0.05), id_embedding(n_items, dim, 0.05)
        self.user_mlp, self.item_mlp = id_embedding(n_users, dim, 0.05), id_embedding(n_items, dim, 0.05)
        layers, width = [], 2 * dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.mlp = nn.Sequential(*layers)
        self.output = nn.Linear(dim + width, 1)

    def spec(self) -> dict:
        return {"n_users": self.n_users, "n_items": self.n_items, "dim": self.dim, "hidden": list(self.hidden)}

    def ids(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return known(x[:, -2], self.n_users), known(x[:, -1], self.n_items)

    def embeddings(self) -> dict[str, torch.Tensor]:
        return {"item": torch.cat([self.item_gmf.weight, self.item_mlp.weight], dim=1),
                "user": torch.cat([self.user_gmf.weight, self.user_mlp.weight], dim=1)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = self.ids(x)
        gmf = self.user_gmf(users) * self.item_gmf(items)
        mlp = self.mlp(torch.cat([self.user_mlp(users), self.item_mlp(items)], dim=1))
        interaction = self.output(torch.cat([gmf, mlp], dim=1)).squeeze(1)
        return self.bias + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1) + interaction


class NeuMFLearner(MatrixFactorizationLearner):
    name = "neumf"
    DEFAULTS = {**TRAINING, "dim": 32, "hidden": (64, 32), "regularization": 0.02}

    def build(self, X, y):
        return NeuMF(self.sizes_["user"], self.sizes_["item"], self.settings["dim"], tuple(self.settings["hidden"]))

    def penalty(self, module, x):
        users, items = module.ids(x)
        tables = (module.user_gmf, module.item_gmf, module.user_mlp, module.item_mlp)
        weights = sum(table(ids).square().sum(1) for table, ids in zip(tables, (users, items, users, items)))
        return self.settings["regularization"] * weights.mean()
