"""SVD++ (Koren 2008): matrix factorisation whose user vector also sums what the user chose to rate.

``p_user + |N(u)|^-1/2 * sum_{j in N(u)} y_j``, where ``N(u)`` is every film the user rated in the
rows it is fitted on: implicit feedback. The sets are kept in the module (``rated_items`` grouped
by user, bag boundaries ``rated_offsets``), so fine-tuning moves the ``y_j`` through them too.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.learners.bags import bag_sums, fitting_a_batch
from pel_torch.learners.matrix_factorization import MatrixFactorization, MatrixFactorizationLearner, id_embedding, known
from pel_torch.learners.precision import KeptWhilePredicting


class SVDpp(KeptWhilePredicting, MatrixFactorization):
    def __init__(self, n_users: int, n_items: int, dim: int = 64, n_rated: int = 0):
        super().__init__(n_users, n_items, dim)
        self.implicit = id_embedding(n_items, dim, 0.05)
        self.register_buffer("rated_items", torch.zeros(n_rated, dtype=torch.int64))
        self.register_buffer("rated_offsets", torch.zeros(n_users + 1, dtype=torch.int64))

    def spec(self) -> dict:
        return {**super().spec(), "n_rated": len(self.rated_items)}

    def set_rated(self, users: np.ndarray, items: np.ndarray) -> None:
        """The films each user rated: ``users`` and ``items`` index arrays of the fitted rows."""
        order = np.lexsort((items, users))
        counts = np.bincount(users, minlength=self.n_users)
        self.rated_items = torch.from_numpy(items[order].astype(np.int64))
        self.rated_offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        if fitting_a_batch():   # only the batch's users' sums: each user's whole set at every batch cost most of a fit
            unique, inverse = torch.unique(users, return_inverse=True)
            counts = (self.rated_offsets[unique + 1] - self.rated_offsets[unique]).to(self.implicit.weight.dtype)
            sums = bag_sums(self.implicit, self.rated_items, self.rated_offsets, unique)
            return self.user_factors(users) + (sums / counts.clamp_min(1).sqrt().unsqueeze(1))[inverse]
        return self.user_factors(users) + self.implicit_vectors()[users]

    def implicit_vectors(self) -> torch.Tensor:
        """``(n_users, dim)``: every user's ``|N(u)|^-1/2 * sum y_j``, kept between batches while predicting (a third of
        SVD++'s prediction time)."""
        return self.kept(self._implicit_vectors, (self.implicit.weight, self.rated_items, self.rated_offsets))

    def _implicit_vectors(self) -> torch.Tensor:
        counts = (self.rated_offsets[1:] - self.rated_offsets[:-1]).to(self.implicit.weight.dtype)          # (n_users,)
        return bag_sums(self.implicit, self.rated_items, self.rated_offsets) / counts.clamp_min(1).sqrt().unsqueeze(1)


class SVDppLearner(MatrixFactorizationLearner):
    name = "svdpp"

    def build(self, X, y):
        users, items = (known(torch.from_numpy(X[:, c]), n).numpy() for c, n in ((-2, self.sizes_["user"]), (-1, self.sizes_["item"])))
        module = SVDpp(self.sizes_["user"], self.sizes_["item"], self.settings["dim"], len(X))
        module.set_rated(users, items)
        return module
