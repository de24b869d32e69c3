"""k-fold bagging: one cloned, reseeded model per fold; out-of-fold predictions feed the next layer.

The fits of a layer may run in worker processes (``fit_bagged``'s ``jobs``): each is independent of the others."""

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import KFold

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner
from pel_torch.threads import limit_threads


def fold_indices(n_rows: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold ``(train, held_out)`` index pairs; shared by every learner of a stack."""
    if n_folds < 2:
        raise PelError(f"n_folds={n_folds}: bagging needs at least 2 folds to make out-of-fold predictions")
    if n_rows < n_folds:
        raise PelError(f"only {n_rows} training rows for {n_folds} folds; lower n_folds")
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(np.arange(n_rows)))


class BaggedLearner:
    """Fits ``learner`` once per fold; ``oof_`` (n,) holds each row's prediction by the model that did not see it.

    At inference the fold models are averaged. ``columns``: the columns of the layer's input the
    learner reads (``Learner.inputs``); None for all of them.
    """

    def __init__(self, learner: Learner, folds: list[tuple[np.ndarray, np.ndarray]], columns: np.ndarray | None = None):
        self.learner = learner
        self.folds = folds
        self.columns = columns

    @property
    def name(self) -> str:
        return self.learner.name

    def fit(self, X: np.ndarray, y: np.ndarray, on_fold=None, sizes: dict[str, int] | None = None,
            times: np.ndarray | None = None) -> "BaggedLearner":
        """``on_fold(name, fold, seconds)`` is called after each fold (progress reporting); ``sizes``, ``times``: see ``Learner.fit``."""
        return fit_bagged([self], X, y, on_fold, sizes, times)[0]

    def fold_fits(self, X: np.ndarray, y: np.ndarray, sizes, times) -> list[tuple]:
        """The arguments of ``fit_fold`` for each fold, in fold order."""
        X = self._read(X)
        return [(self.learner.clone(seed=self.learner.seed * 1000 + fold), X, y, train, held_out, sizes, times)
                for fold, (train, held_out) in enumerate(self.folds)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = self._read(X)
        return np.mean([model.predict(X) for model in self.models_], axis=0)

    def _read(self, X: np.ndarray) -> np.ndarray:
        return X if self.columns is None else X[:, self.columns]


def check_jobs(jobs: int) -> int:
    """``jobs``, refused in one line below 1 (joblib would read 0 as an error and -1 as every core)."""
    if jobs < 1:
        raise PelError(f"jobs={jobs}: must be at least 1")
    return jobs


def fit_fold(learner: Learner, X, y, train, held_out, sizes, times) -> tuple[Learner, np.ndarray, float]:
    """One fold: the model fitted on ``train``, its predictions of ``held_out`` and the seconds it took.
    A function of its arguments alone, so a worker process can run it."""
    started = time.perf_counter()
    model = learner.fit(X[train], y[train], sizes, None if times is None else times[train])
    held_out_predictions = model.predict(X[held_out]) if len(held_out) else np.empty(0)   # a refit's one fold holds none out
    return model, held_out_predictions, time.perf_counter() - started


def fit_bagged(bagged: list[BaggedLearner], X: np.ndarray, y: np.ndarray, on_fold=None, sizes=None, times=None,
               jobs: int = 1) -> list[BaggedLearner]:
    """Fit every fold of every learner in ``bagged``; with ``jobs`` > 1, that many at once in worker processes.

    Each fit depends on its own arguments and seed alone, and a worker caps its libraries at the learner's
    ``threads`` as the main process does, so the models are the same whatever ``jobs`` is."""
    fits = [(index, fold, arguments) for index, b in enumerate(bagged) for fold, arguments in enumerate(b.fold_fits(X, y, sizes, times))]
    for b in bagged:
        b.models_, b.oof_ = [None] * len(b.folds), np.full(len(y), np.nan)
    if jobs == 1:
        results = ((index, fold, fit_fold(*arguments)) for index, fold, arguments in fits)
    else:
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(_fit_fold_in_worker)(index, fold, arguments) for index, fold, arguments in fits)
    for index, fold, (model, held_out_predictions, seconds) in results:
        b = bagged[index]
        b.models_[fold] = model
        b.oof_[b.folds[fold][1]] = held_out_predictions
        if on_fold is not None:
            on_fold(b.name, fold, seconds)
    return bagged


def _fit_fold_in_worker(index: int, fold: int, arguments: tuple) -> tuple[int, int, tuple]:
    limit_threads(arguments[0].threads)   # a worker starts with every library's default pool
    return index, fold, fit_fold(*arguments)
