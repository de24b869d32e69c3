"""Bayesian probabilistic matrix factorisation (Salakhutdinov and Mnih 2008), sampled by Gibbs, kept as a plain MF module;
with implicit feedback in the priors and a bias for each day a user rated on.

``rating ~ N(mean + u_user . v_film + s_(user, day), 1 / noise_precision)``. Each user's vector has a Gaussian prior
whose mean is ``mu + B^T x_user``, where ``x_user`` is the films the user rated (SVD++'s implicit feedback, as
Macau's side features: Simm et al. 2017), and each film's likewise from the users who rated it (Rendle et al. 2019's
"flipped" SVD++); ``mu`` and the precision have Gaussian-Wishart priors, the links ``B`` matrix normal ones, and
``s ~ N(0, 1 / lambda)``. The sampler is ``bpmf_sampler.GibbsSampler``; the prediction is the average of
``u . v + s`` over the sweeps after ``burn_in``. The regularisation is integrated over rather than tuned, which is
why it beats the same model fitted by a point estimate (MF) and why its errors differ from MF's: what a stack wants.

Measured on u1's validation ratings, one fit (docs/ratings.md, "AutoRec, Bayesian MF, the user's day and implicit feedback"):
0.9042 RMSE without either, 0.8951 with the day's bias, 0.8830 with both. The day's bias is timeSVD++'s ``b_(u,t)``
(Koren 2009): ratings a user gives on one day run high or low together, beyond what the user and the films explain.
It pays where a rating to predict falls on a day the fitted ratings hold; a day with no fitted rating of the user,
or a rating without a timestamp (day -1), adds nothing.

The average of the sampled products ``(1/S) sum_s U_s V_s^T`` is a matrix of rank at most ``S * dim``; it is
factored exactly (QR of both sides, then an SVD of the small core) and cut to its leading ``rank`` directions, so
the fitted model is a ``DayBiasedMF`` of ``rank`` dimensions: as fast as MF to predict, and fine-tuned
like it. ``rank`` is an approximation of the average, measured in docs/ratings.md. The implicit feedback is in the
vectors already: the module reads no rated sets.
"""

import numpy as np
import torch
from scipy import sparse
from torch import nn

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
from pel_torch.learners.bpmf_sampler import GibbsSampler
from pel_torch.learners.matrix_factorization import MatrixFactorization, known

DAY_BITS = 21   # a (user, day) key is user << 21 | day: days since 1970 up to the year 7700


def day_keys(users: torch.Tensor, days: torch.Tensor) -> torch.Tensor:
    """``(n,)`` int64 key of each row's (user, day); -1 where the day is unknown (negative) or the user is (0)."""
    day = days.double().floor()
    known_day = (day >= 0) & (users > 0)
    return torch.where(known_day, (users << DAY_BITS) | day.clamp_min(0).long(), torch.full_like(users, -1))


class DayBiasedMF(MatrixFactorization):
    """``(batch, n_inputs)`` -> ``(batch,)``: MF plus ``day_bias`` for each (user, day) key in ``day_keys`` (sorted).
    The column before the two ids is the day."""

    def __init__(self, n_users: int, n_items: int, dim: int = 64, n_days: int = 0):
        super().__init__(n_users, n_items, dim)
        self.register_buffer("day_keys", torch.zeros(n_days, dtype=torch.int64))
        self.day_bias = nn.Parameter(torch.zeros(n_days))

    def spec(self) -> dict:
        return {**super().spec(), "n_days": len(self.day_keys)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        users, _ = self.ids(x)
        rated = super().forward(x)
        if not len(self.day_keys):
            return rated
        keys = day_keys(users, x[:, -3])
        position = torch.searchsorted(self.day_keys, keys).clamp_max(len(self.day_keys) - 1)
        found = self.day_keys[position] == keys
        return rated + torch.where(found, self.day_bias[position], torch.zeros_like(rated)).to(rated.dtype)


class BayesianMFLearner(Learner):
    """``noise_precision`` is in the target's units (the ratings task's are standardised: 2.0 is about 0.7 stars of
    noise); the hyperpriors are the paper's (``beta0`` 2, ``nu0 = dim``, ``W0 = I``, mean 0). ``implicit_features``:
    how many of the most rated films (users) the users' (films') implicit feedback reads, 0 for none; the links cost
    a Cholesky of that size per side and sweep.

    Reads the ``day``, ``user`` and ``item`` input groups (the day, then the two ids last)."""

    name = "bpmf"
    inputs = ("day", "user", "item")
    strict_params = True
    # chosen on u1's validation ratings (docs/ratings.md, "AutoRec, Bayesian MF, the user's day and implicit feedback")
    DEFAULTS = {"dim": 30, "noise_precision": 2.0, "sweeps": 150, "burn_in": 20, "rank": 256, "implicit_features": 2000}

    def _fit(self, X, y):
        s = self.settings
        rng = np.random.default_rng(self.seed)
        users, items = (known(torch.from_numpy(np.asarray(X[:, c])), self.sizes_[g]) for c, g in ((-2, "user"), (-1, "item")))
        keys = day_keys(users, torch.from_numpy(np.asarray(X[:, -3]))).numpy()
        known_days = np.unique(keys[keys >= 0])
        days = np.where(keys >= 0, np.searchsorted(known_days, keys), -1)             # each rating's (user, day), -1: none
        mean = float(np.mean(y))
        residual = np.asarray(y, dtype=np.float64) - mean
        sampler = GibbsSampler(users, items, days, residual, (self.sizes_["user"], self.sizes_["item"]), s["dim"], s["noise_precision"],
                               s["implicit_features"], rng)
        kept_users, kept_items, day_bias = [], [], np.zeros(len(known_days))
        for sweep in range(s["sweeps"]):
            sampler.sweep()
            if sweep >= s["burn_in"]:
                kept_users.append(sampler.factors[0].clone())
                kept_items.append(sampler.factors[1].clone())
                day_bias += sampler.day_bias
        if not kept_users:
            raise PelError(f"bpmf: sweeps={s['sweeps']} keeps no sample after burn_in={s['burn_in']}; give more sweeps")
        scale = len(kept_users) ** -0.5
        user_factors, item_factors = leading_factors(torch.cat(kept_users, 1) * scale, torch.cat(kept_items, 1) * scale, s["rank"])
        module = DayBiasedMF(self.sizes_["user"], self.sizes_["item"], user_factors.shape[1], len(known_days))
        module.day_keys = torch.from_numpy(known_days)
        with torch.no_grad():
            module.bias.fill_(mean)
            module.day_bias.copy_(torch.from_numpy(day_bias / len(kept_users)))
            for table, factors, rated in ((module.user_factors, user_factors, sampler.rated[0]), (module.item_factors, item_factors, sampler.rated[1])):
                table.weight.copy_(torch.where(rated[:, None], factors, 0.0).float())   # no rating, no vector: the id is unknown
        self.model_ = module.eval()
        return self

    def predict(self, X):
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(X))).double().numpy()


def leading_factors(left: torch.Tensor, right: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` with ``A @ B.T`` the best rank-``rank`` approximation of ``left @ right.T``, never forming that product:
    ``left = Q_l R_l``, ``right = Q_r R_r``, and the SVD of the small ``R_l R_r^T`` gives the directions."""
    q_left, r_left = torch.linalg.qr(left)
    q_right, r_right = torch.linalg.qr(right)
    u, singular, vh = torch.linalg.svd(r_left @ r_right.T)
    k = min(rank, len(singular))
    root = singular[:k].sqrt()
    return q_left @ (u[:, :k] * root), q_right @ (vh[:k].T * root)
