"""Bayesian probabilistic matrix factorisation (Salakhutdinov and Mnih 2008), sampled by Gibbs, kept as a plain MF module.

``rating ~ N(mean + u_user . v_film, 1 / noise_precision)``, with Gaussian priors on the vectors whose means and
precisions have Gaussian-Wishart priors of their own. Each sweep draws every user's vector given the films', then
every film's given the users'; the prediction is the average of ``u . v`` over the sweeps after ``burn_in``.
The regularisation is integrated over rather than tuned, which is why it beats the same model fitted by a point
estimate (MF) and why its errors differ from MF's: what a stack wants.

The average of the sampled products ``(1/S) sum_s U_s V_s^T`` is a matrix of rank at most ``S * dim``; it is
factored exactly (QR of both sides, then an SVD of the small core) and cut to its leading ``rank`` directions, so
the fitted model is a ``MatrixFactorization`` of ``rank`` dimensions: as fast as MF to predict, and fine-tuned
like it. ``rank`` is an approximation of the average, measured in docs/ratings.md.
"""

import numpy as np
import torch
from scipy import sparse

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
from pel_torch.learners.matrix_factorization import MatrixFactorization, known


class BayesianMFLearner(Learner):
    """``noise_precision`` is in the target's units (the ratings task's are standardised: 2.0 is about 0.7 stars of
    noise); the hyperpriors are the paper's (``beta0`` 2, ``nu0 = dim``, ``W0 = I``, mean 0)."""

    name = "bpmf"
    inputs = ("user", "item")
    strict_params = True
    # chosen on u1's validation ratings (docs/ratings.md, "Bayesian MF")
    DEFAULTS = {"dim": 30, "noise_precision": 2.0, "sweeps": 150, "burn_in": 20, "rank": 256}

    def _fit(self, X, y):
        s = self.settings
        rng = np.random.default_rng(self.seed)
        users, items = (known(torch.from_numpy(np.asarray(X[:, c])), self.sizes_[g]) for c, g in ((-2, "user"), (-1, "item")))
        mean = float(np.mean(y))
        residual = torch.from_numpy(np.asarray(y, dtype=np.float64) - mean)
        sampler = _GibbsSampler(users, items, residual, self.sizes_["user"], self.sizes_["item"], s["dim"], s["noise_precision"], rng)
        kept_users, kept_items = [], []
        for sweep in range(s["sweeps"]):
            sampler.sweep()
            if sweep >= s["burn_in"]:
                kept_users.append(sampler.factors[0].clone())
                kept_items.append(sampler.factors[1].clone())
        if not kept_users:
            raise PelError(f"bpmf: sweeps={s['sweeps']} keeps no sample after burn_in={s['burn_in']}; give more sweeps")
        scale = len(kept_users) ** -0.5
        user_factors, item_factors = leading_factors(torch.cat(kept_users, 1) * scale, torch.cat(kept_items, 1) * scale, s["rank"])
        module = MatrixFactorization(self.sizes_["user"], self.sizes_["item"], user_factors.shape[1])
        with torch.no_grad():
            module.bias.fill_(mean)
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
    """One chain of BPMF's Gibbs sampler over the fitted ratings; ``factors`` holds the current draw (users, films)."""

    def __init__(self, users, items, residual, n_users, n_items, dim, noise_precision, rng):
        self.dim, self.alpha, self.rng = dim, noise_precision, rng
        self.rated = tuple(torch.bincount(ids, minlength=n) > 0 for ids, n in ((users, n_users), (items, n_items)))
        self.factors = [torch.from_numpy(0.1 * rng.standard_normal((n, dim))) for n in (n_users, n_items)]
        # side -> (n_side, n_other) sparse: how often each pair was rated (a pair drawn twice counts twice), and the residuals
        pairs, shape = (users.numpy(), items.numpy()), (n_users, n_items)
        counts = sparse.csr_matrix((np.ones(len(users)), pairs), shape=shape)    # duplicates are summed
        sums = sparse.csr_matrix((residual.numpy(), pairs), shape=shape)
        self.counts, self.sums = (counts, counts.T.tocsr()), (sums, sums.T.tocsr())

    def sweep(self) -> None:
        for side in (0, 1):
            self.factors[side] = self._draw(side)

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
