"""The Gibbs sampler of Bayesian MF (``bayesian_mf.py``): one chain over the fitted ratings.

The state is each side's vectors (``factors``: users, films), each side's link from implicit features to its prior
mean (``links``) and each (user, day)'s bias (``day_bias``). A sweep draws the users' vectors given the films', then
the films' given the users', each side's link after its vectors, then the day biases given the vectors. Every draw is
from its exact conditional: Gaussian with Gaussian-Wishart hyperpriors for the vectors (Salakhutdinov and Mnih 2008),
matrix normal for the links (Macau: Simm et al. 2017), Gaussian with a Gamma hyperprior for the biases.
"""

import numpy as np
import torch
from scipy import sparse


def implicit_features(rated: sparse.csr_matrix, limit: int) -> sparse.csr_matrix:
    """``(n_side, f)``: each entity's rated entities of the other side (``rated``: 1 per rated pair), over the square
    root of how many it rated (SVD++'s ``|N(u)|^-1/2``), restricted to the ``limit`` most rated columns so that the
    links' ``f x f`` solve stays bounded on large catalogues."""
    counts = np.asarray(rated.sum(1)).ravel()
    popularity = np.asarray(rated.sum(0)).ravel()
    columns = np.sort(np.argsort(-popularity, kind="stable")[:limit])
    return (sparse.diags(1 / np.sqrt(np.maximum(counts, 1))) @ rated[:, columns]).tocsr()


class GibbsSampler:
    """``users``, ``items`` (n,) int64 tensors of the fitted ratings, ``days`` (n,) each rating's (user, day) index or -1,
    ``residual`` (n,) the ratings less their mean; ``implicit_limit`` columns of implicit features per side (0: none)."""

    def __init__(self, users, items, days, residual, sizes: tuple[int, int], dim: int, noise_precision: float,
                 implicit_limit: int, rng: np.random.Generator):
        self.dim, self.alpha, self.rng = dim, noise_precision, rng
        self.users, self.items, self.residual = users, items, residual
        self.rated = tuple(torch.bincount(ids, minlength=n) > 0 for ids, n in zip((users, items), sizes))
        self.factors = [torch.from_numpy(0.1 * rng.standard_normal((n, dim))) for n in sizes]
        self.dated = days >= 0
        self.days = days[self.dated]
        n_days = int(days.max()) + 1 if self.dated.any() else 0
        self.day_counts = np.bincount(self.days, minlength=n_days)
        self.day_bias, self.day_precision = np.zeros(n_days), 1.0
        # side -> (n_side, n_other) sparse: how often each pair was rated (a pair drawn twice counts twice), and the residuals
        self.pairs = (users.numpy(), items.numpy())
        counts = sparse.csr_matrix((np.ones(len(users)), self.pairs), shape=sizes)    # duplicates are summed
        self.counts = (counts, counts.T.tocsr())
        self._set_sums(residual)
        self.features = [None, None]
        if implicit_limit > 0:
            ones = counts.copy()
            ones.data[:] = 1.0
            self.features = [implicit_features(matrix, implicit_limit) for matrix in (ones, ones.T.tocsr())]
        self.links = [None if x is None else torch.zeros(x.shape[1], dim, dtype=torch.float64) for x in self.features]
        self.link_precision = [1.0, 1.0]
        # the rated entities' features and the eigenvectors of their Gram matrix, fixed for the chain: the links' solve
        # with any lambda is then two products, not a Cholesky of f x f each sweep (a third of the sampler's time)
        self.rated_features = [None if x is None else x[rated.numpy()] for x, rated in zip(self.features, self.rated)]
        self.feature_gram = [None if x is None else _eigen(torch.from_numpy((x.T @ x).toarray())) for x in self.rated_features]

    def _set_sums(self, left: np.ndarray) -> None:
        sums = sparse.csr_matrix((left, self.pairs), shape=self.counts[0].shape)
        self.sums = (sums, sums.T.tocsr())

    def sweep(self) -> None:
        for side in (0, 1):
            self._draw_vectors(side)
        if len(self.day_bias):
            self._draw_days()

    def _draw_vectors(self, side: int) -> None:
        """Every entity of ``side`` given the other side's vectors: a Gaussian per entity, its precision the prior's plus
        ``alpha`` times the sum of the other side's ``v v^T`` over its ratings, its prior mean shifted by its link."""
        other = self.factors[1 - side]
        n, d = len(self.factors[side]), self.dim
        features = self.features[side]
        shift = torch.zeros(n, d, dtype=torch.float64) if features is None else torch.from_numpy(features @ self.links[side].numpy())
        prior_mean, prior_precision = self._hyperparameters((self.factors[side] - shift)[self.rated[side]])
        # each other entity's v v^T once, then summed over each entity's ratings by one sparse product
        gram = torch.from_numpy(self.counts[side] @ (other[:, :, None] * other[:, None, :]).reshape(-1, d * d).numpy())
        precision = prior_precision + self.alpha * gram.reshape(n, d, d)                       # (n, d, d)
        linear = self.alpha * torch.from_numpy(self.sums[side] @ other.numpy()) + (prior_mean + shift) @ prior_precision
        lower = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve(linear[:, :, None], lower)[:, :, 0]
        noise = torch.from_numpy(self.rng.standard_normal((n, d, 1)))
        self.factors[side] = mean + torch.linalg.solve_triangular(lower.transpose(1, 2), noise, upper=True)[:, :, 0]
        if features is not None:
            self._draw_link(side, prior_mean, prior_precision)

    def _draw_link(self, side: int, prior_mean: torch.Tensor, prior_precision: torch.Tensor) -> None:
        """The link ``B`` (f, d) given the rated entities' vectors ``U``: ``U - mean ~ X B + N(0, precision^-1)`` per row,
        ``B ~ MN(0, I / lambda, precision^-1)``, so ``B`` is matrix normal with row covariance ``(X^T X + lambda I)^-1``
        and column covariance ``precision^-1``; then ``lambda`` from its Gamma posterior (shape and rate 1 a priori)."""
        features, lam = self.rated_features[side], self.link_precision[side]
        values, vectors = self.feature_gram[side]                   # X^T X = Q diag(values) Q^T, so (X^T X + lam I)^-1 = ...
        target = (self.factors[side] - prior_mean)[self.rated[side]]
        f, d = features.shape[1], self.dim
        mean = vectors @ ((vectors.T @ torch.from_numpy(features.T @ target.numpy())) / (values + lam)[:, None])
        column = torch.linalg.cholesky(prior_precision)                                       # precision = C C^T
        noise = vectors @ (torch.from_numpy(self.rng.standard_normal((f, d))) / (values + lam).sqrt()[:, None])
        link = mean + torch.linalg.solve_triangular(column.T, noise.T, upper=True).T          # rows ~ N(0, C^-T C^-1)
        self.links[side] = link
        spread = float(((link @ prior_precision) * link).sum())
        self.link_precision[side] = self.rng.gamma(1.0 + f * d / 2, 1.0 / (1.0 + spread / 2))

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

    def _hyperparameters(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior's mean and precision drawn from their Gaussian-Wishart posterior given ``vectors`` (the rated ids'
        less their links' shift)."""
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


def _eigen(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, vectors = torch.linalg.eigh(gram)
    return values.clamp_min(0.0), vectors
