"""I-AutoRec (Sedhain et al. 2015): each film is the vector of the ratings users gave it, squeezed through a hidden
layer and decoded back to every user; the decoded value at a user is the predicted rating.

``code_i = sigmoid(V r_i + mu)`` over the film's fitted ratings ``r_i`` (one entry per user, 0 where the user
did not rate it), then ``bias + b_user + w_user . code_i``. Unlike MF's free film vectors, a film's code is
a function of who rated it and how, so a film with few ratings borrows from films rated alike, and a rating
added later moves the code without a refit. The fitted ratings are kept in the module (``rated_users``,
``rated_values`` grouped by film, bag boundaries ``rated_offsets``); fine-tuning moves ``V`` through them.

Reads the ``user`` and ``item`` input groups (the last two columns, 0 for an id no training rating showed):
an unknown user is predicted as ``bias``, an unknown film from the code of no ratings.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.learners.bags import bag_members, bag_sums, fitting_a_batch
from pel_torch.learners.early_stopping import holdout_split, train_early_stopped
from pel_torch.learners.matrix_factorization import id_embedding, known
from pel_torch.learners.precision import FixedPrecision, KeptWhilePredicting
from pel_torch.learners.torch_learner import TRAINING, TorchLearner


class ItemAutoRec(KeptWhilePredicting, FixedPrecision):
    """``(batch, n_inputs)`` -> ``(batch,)``; the last two columns are user and film indices."""

    def __init__(self, n_users: int, n_items: int, hidden: int = 500, n_rated: int = 0):
        super().__init__()
        self.n_users, self.n_items, self.hidden = n_users, n_items, hidden
        self.bias = nn.Parameter(torch.zeros(()))
        # nn.Linear's default starts: uniform over +-1/sqrt(fan in)
        self.encoder = nn.Embedding(n_users, hidden)           # row u: the weights of user u's rating in every code
        nn.init.uniform_(self.encoder.weight, -n_users ** -0.5, n_users ** -0.5)
        self.encoder_bias = nn.Parameter(torch.zeros(hidden))
        self.decoder = id_embedding(n_users, hidden, 0.0)
        with torch.no_grad():
            self.decoder.weight[1:].uniform_(-hidden ** -0.5, hidden ** -0.5)
        self.user_bias = id_embedding(n_users, 1, 0.0)
        self.register_buffer("rated_users", torch.zeros(n_rated, dtype=torch.int64))
        self.register_buffer("rated_values", torch.zeros(n_rated, dtype=torch.float32))
        self.register_buffer("rated_offsets", torch.zeros(n_items + 1, dtype=torch.int64))

    def spec(self) -> dict:
        return {"n_users": self.n_users, "n_items": self.n_items, "hidden": self.hidden, "n_rated": len(self.rated_users)}

    def set_ratings(self, users: np.ndarray, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The fitted ratings (index arrays and input values) as each film's bag; returns the order they are stored in."""
        order = np.lexsort((users, items))
        counts = np.bincount(items, minlength=self.n_items)
        self.rated_users = torch.from_numpy(users[order].astype(np.int64))
        self.rated_values = torch.from_numpy(values[order].astype(np.float32))
        self.rated_offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        return order

    def item_codes(self) -> torch.Tensor:
        """``(n_items, hidden)``: every film's code, kept between batches while predicting."""
        return self.kept(self._item_codes, (self.encoder.weight, self.encoder_bias, self.rated_users, self.rated_values,
                                            self.rated_offsets))

    def _item_codes(self) -> torch.Tensor:
        return torch.sigmoid(bag_sums(self.encoder, self.rated_users, self.rated_offsets, weights=self.rated_values) + self.encoder_bias)

    def codes_of(self, items: torch.Tensor) -> torch.Tensor:
        """``(batch, hidden)``: the codes of ``items``. While fitting, only the batch's own films are coded: a batch
        reads a few percent of the fitted ratings instead of all of them (fine-tuning a pretrained stack spent most
        of its time here). Predicting reads every film's kept codes."""
        if not fitting_a_batch():
            return self.item_codes()[items]
        films, inverse = torch.unique(items, return_inverse=True)
        summed = bag_sums(self.encoder, self.rated_users, self.rated_offsets, films, weights=self.rated_values)
        return torch.sigmoid(summed + self.encoder_bias)[inverse]

    def decode(self, users: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.bias + self.user_bias(users).squeeze(1) + (self.decoder(users) * codes).sum(dim=1)

    def embeddings(self) -> dict[str, torch.Tensor]:
        """Id group -> its learned vectors, row 0 the unknown id: what TensorBoard's projector shows."""
        return {"item": self.item_codes(), "user": self.decoder.weight}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, items = known(x[:, -2], self.n_users), known(x[:, -1], self.n_items)
        return self.decode(users, self.codes_of(items))


def rating_levels(y: np.ndarray) -> np.ndarray:
    """Ratings as an AutoRec reads them: the lowest one step above nothing (an unrated entry is 0), one more per step.

    The targets come standardised, so a rating of 1 to 5 stars would read -2.2 to 1.3 and an unrated entry would read as
    an average rating; measured on u1's validation ratings, that lost 0.027 RMSE against the stars themselves. One star
    (the smallest gap between two targets, at least a fiftieth of their range) is one step, so 1 to 5 stars read 1 to 5
    again, as in the paper, and half stars 1 to 10."""
    distinct = np.unique(y)
    if len(distinct) < 2:
        return np.ones_like(y)
    step = max(float(np.diff(distinct).min()), float(distinct[-1] - distinct[0]) / 50)
    return (y - distinct[0]) / step + 1.0


class AutoRecLearner(TorchLearner):
    """Trained as the paper does, on whole films: a batch is ``batch_size`` films, its loss the squared error summed over
    their ratings plus ``regularization / 2`` times the encoder's and decoder's squared weights. The ratings held out to
    stop early are left out of the films' vectors while training (a rating the code reads is one it could copy);
    then every fitted rating goes in."""

    name = "autorec"
    inputs = ("user", "item")
    # chosen on u1's validation ratings (docs/ratings.md, "AutoRec, Bayesian MF, the user's day and implicit feedback")
    DEFAULTS = {**TRAINING, "hidden": 500, "regularization": 20.0, "learning_rate": 1e-3, "batch_size": 256,
                "max_epochs": 300, "patience": 10}

    def _fit(self, X, y):
        s = self.settings
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)  # initial weights draw from the global generator
        users, items = (known(torch.from_numpy(np.asarray(X[:, c])), self.sizes_[g]).numpy() for c, g in ((-2, "user"), (-1, "item")))
        values = rating_levels(y)
        module = ItemAutoRec(self.sizes_["user"], self.sizes_["item"], s["hidden"], len(X))
        if self.initial_module is not None:
            self._start_from(module)
        train, holdout = holdout_split(len(X), s["holdout"], generator, self.times_)
        order = module.set_ratings(users[train], items[train], values[train])
        targets = torch.from_numpy(y[train][order]).float()
        films = torch.from_numpy(np.flatnonzero(np.diff(module.rated_offsets.numpy()) > 0))
        X_hold, y_hold = torch.from_numpy(X[holdout]), torch.from_numpy(y[holdout])
        optimizer = torch.optim.Adam(module.parameters(), lr=s["learning_rate"])

        def batch_loss(batch):
            positions, bag = bag_members(module.rated_offsets, films[batch])
            codes = module.codes_of(films[batch])
            predicted = module.decode(module.rated_users[positions], codes[bag])
            weights = module.encoder.weight.square().sum() + module.decoder.weight.square().sum()
            return (predicted - targets[positions]).square().sum() + s["regularization"] / 2 * weights

        train_early_stopped(module, optimizer, batch_loss, lambda: float(((module(X_hold).double() - y_hold) ** 2).mean()),
                            len(films), batch_size=s["batch_size"], max_epochs=s["max_epochs"], patience=s["patience"],
                            generator=generator)
        module.set_ratings(users, items, values)
        self.model_ = module.eval()
        return self

