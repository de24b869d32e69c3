"""Bayesian probabilistic matrix factorisation (Salakhutdinov and Mnih 2008), sampled by Gibbs, kept as a plain MF module,
with a bias for each day a user rated on.

``rating ~ N(mean + u_user . v_film + s_(user, day), 1 / noise_precision)``, with Gaussian priors on the vectors whose
means and precisions have Gaussian-Wishart priors of their own, and ``s ~ N(0, 1 / lambda)``, ``lambda ~ Gamma(1, 1)``.
Each sweep draws every user's vector given the films', every film's given the users', then every (user, day)'s bias
given both; the prediction is the average of ``u . v + s`` over the sweeps after ``burn_in``. The regularisation is
integrated over rather than tuned, which is why it beats the same model fitted by a point estimate (MF) and why its
errors differ from MF's: what a stack wants.

The day's bias is timeSVD++'s ``b_(u,t)`` (Koren 2009): ratings a user gives on one day run high or low together,
beyond what the user and the films explain. It pays where a rating to predict falls on a day the fitted ratings
hold (a random split: u1's validation RMSE 0.9042 -> 0.8951 for one fit; docs/ratings.md, "A user's day"); a day
with no fitted rating of the user, or a rating without a timestamp (day -1), adds nothing.

The average of the sampled products ``(1/S) sum_s U_s V_s^T`` is a matrix of rank at most ``S * dim``; it is
factored exactly (QR of both sides, then an SVD of the small core) and cut to its leading ``rank`` directions, so
the fitted model is a ``DayBiasedMF`` of ``rank`` dimensions: as fast as MF to predict, and fine-tuned
like it. ``rank`` is an approximation of the average, measured in docs/ratings.md.
"""

import numpy as np
import torch
from scipy import sparse
from torch import nn

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
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
    noise); the hyperpriors are the paper's (``beta0`` 2, ``nu0 = dim``, ``W0 = I``, mean 0).

    Reads the ``day``, ``user`` and ``item`` input groups (the day, then the two ids last)."""

    name = "bpmf"
    inputs = ("day", "user", "item")
    strict_params = True
    # chosen on u1's validation ratings (docs/ratings.md, "Bayesian MF")
    DEFAULTS = {"dim": 30, "noise_precision": 2.0, "sweeps": 150, "burn_in": 20, "rank": 256}

    def _fit(self, X, y):
        s = self.settings
        rng = np.random.default_rng(self.seed)
        users, items = (known(torch.from_numpy(np.asarray(X[:, c])), self.sizes_[g]) for c, g in ((-2, "user"), (-1, "item")))
        keys = day_keys(users, torch.from_numpy(np.asarray(X[:, -3]))).numpy()
        known_days = np.unique(keys[keys >= 0])
        days = np.where(keys >= 0, np.searchsorted(known_days, keys), -1)             # each rating's (user, day), -1: none
        mean = float(np.mean(y))
        residual = np.asarray(y, dtype=np.float64) - mean
        sampler = _GibbsSampler(users, items, days, residual, self.sizes_["user"], self.sizes_["item"], s["dim"], s["noise_precision"], rng)
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


class _GibbsSampler:
    """One chain of BPMF's Gibbs sampler over the fitted ratings; ``factors`` holds the current draw (users, films) and
    ``day_bias`` each (user, day)'s. ``days``: each rating's (user, day) index, -1 for none."""

    def __init__(self, users, items, days, residual, n_users, n_items, dim, noise_precision, rng):
        self.dim, self.alpha, self.rng = dim, noise_precision, rng
        self.users, self.items, self.residual = users, items, residual
        self.rated = tuple(torch.bincount(ids, minlength=n) > 0 for ids, n in ((users, n_users), (items, n_items)))
        self.factors = [torch.from_numpy(0.1 * rng.standard_normal((n, dim))) for n in (n_users, n_items)]
        self.dated = days >= 0
        self.days, n_days = days[self.dated], int(days.max()) + 1 if self.dated.any() else 0
        self.day_counts = np.bincount(self.days, minlength=n_days)
        self.day_bias, self.day_precision = np.zeros(n_days), 1.0
        # side -> (n_side, n_other) sparse: how often each pair was rated (a pair drawn twice counts twice), and the residuals
        self.pairs, shape = (users.numpy(), items.numpy()), (n_users, n_items)
        counts = sparse.csr_matrix((np.ones(len(users)), self.pairs), shape=shape)    # duplicates are summed
        self.counts = (counts, counts.T.tocsr())
        self._set_sums(residual)

    def _set_sums(self, left: np.ndarray) -> None:
        sums = sparse.csr_matrix((left, self.pairs), shape=self.counts[0].shape)
        self.sums = (sums, sums.T.tocsr())

    def sweep(self) -> None:
        for side in (0, 1):
            self.factors[side] = self._draw(side)
        if len(self.day_bias):
            self._draw_days()

    def _draw_days(self) -> None:
        """Every (user, day)'s bias given the vectors: a Gaussian each, its precision the prior's plus ``alpha`` per
        rating; then the prior's precision from its Gamma posterior (shape and rate 1 a priori). The vectors' next
        draws see the ratings less these biases."""
        fitted = (self.factors[0][self.users] * self.factors[1][self.items]).sum(1).numpy()
        left = (self.residual - fitted)[self.dated]
        precision = self.day_precision + self.alpha * self.day_counts
        mean = self.alpha * np.bincount(self.days, left, minlength=len(self.day_bias)) / precision
        self.day_bias = mean + self.rng.standard_normal(len(mean)) / np.sqrt(precision)
        self.day_precision = self.rng.gamma(1.0 + len(mean) / 2, 1.0 / (1.0 + (self.day_bias ** 2).sum() / 2))
        shifted = self.residual.copy()
        shifted[self.dated] -= self.day_bias[self.days]
        self._set_sums(shifted)

    def _draw(self, side: int) -> torch.Tensor:
        """Every entity of ``side`` given the other side's vectors: a Gaussian per entity, its precision the prior's plus
        ``alpha`` times the sum of the other side's ``v v^T`` over its ratings."""
        other = self.factors[1 - side]
        n, d = len(self.factors[side]), self.dim
        prior_mean, prior_precision = self._hyperparameters(self.factors[side][self.rated[side]])
        # each other entity's v v^T once, then summed over each entity's ratings by one sparse product
        gram = torch.from_numpy(self.counts[side] @ (other[:, :, None] * other[:, None, :]).reshape(-1, d * d).numpy())
        precision = prior_precision + self.alpha * gram.reshape(n, d, d)                       # (n, d, d)
        linear = self.alpha * torch.from_numpy(self.sums[side] @ other.numpy()) + prior_precision @ prior_mean
        lower = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve(linear[:, :, None], lower)[:, :, 0]
        noise = torch.from_numpy(self.rng.standard_normal((n, d, 1)))
        return mean + torch.linalg.solve_triangular(lower.transpose(1, 2), noise, upper=True)[:, :, 0]

    def _hyperparameters(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior's mean and precision drawn from their Gaussian-Wishart posterior given ``vectors`` (the rated ids')."""
        n, d, beta0 = len(vectors), self.dim, 2.0
        average = vectors.mean(0)
        spread = torch.cov(vectors.T, correction=0) if n > 1 else torch.zeros(d, d, dtype=torch.float64)
        scale_inverse = torch.eye(d, dtype=torch.float64) + n * spread + beta0 * n / (beta0 + n) * torch.outer(average, average)
        precision = self._wishart(torch.linalg.inv(scale_inverse), d + n)
        covariance = torch.linalg.inv((beta0 + n) * precision)
        mean = n * average / (beta0 + n) + torch.linalg.cholesky(covariance) @ torch.from_numpy(self.rng.standard_normal(d))
        return mean, precision

    def _wishart(self, scale: torch.Tensor, degrees: int) -> torch.Tensor:
        """A Wishart draw by Bartlett's decomposition: ``L A A^T L^T`` with ``L L^T = scale``."""
        d = self.dim
        bartlett = np.tril(self.rng.standard_normal((d, d)), -1)
        bartlett[np.diag_indices(d)] = np.sqrt(self.rng.chisquare(degrees - np.arange(d)))
        factor = torch.linalg.cholesky((scale + scale.T) / 2) @ torch.from_numpy(bartlett)
        return factor @ factor.T

