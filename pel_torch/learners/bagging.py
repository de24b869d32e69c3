"""k-fold bagging: one cloned, reseeded model per fold; out-of-fold predictions feed the next layer."""

import time

import numpy as np
from sklearn.model_selection import KFold

from pel_torch.errors import PelError
from pel_torch.learners.base import Learner


def fold_indices(n_rows: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold ``(train, held_out)`` index pairs; shared by every learner of a stack."""
    if n_folds < 2:
        raise PelError(f"n_folds={n_folds}: bagging needs at least 2 folds to make out-of-fold predictions")
    if n_rows < n_folds:
        raise PelError(f"only {n_rows} training rows for {n_folds} folds; lower n_folds")
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(np.arange(n_rows)))


def held_out_fold(n_rows: int, n_folds: int, seed: int) -> np.ndarray:
    """``(n_rows,)`` int64: the fold each row is held out of, for ``fold_indices(n_rows, n_folds, seed)``."""
    fold = np.empty(n_rows, dtype=np.int64)
    for k, (_, held_out) in enumerate(fold_indices(n_rows, n_folds, seed)):
        fold[held_out] = k
    return fold


class BaggedLearner:
    """Fits ``learner`` once per fold; ``oof_`` (n,) holds each row's prediction by the model that did not see it.

    At inference the fold models are averaged.
    """

    def __init__(self, learner: Learner, folds: list[tuple[np.ndarray, np.ndarray]]):
        self.learner = learner
        self.folds = folds

    @property
    def name(self) -> str:
        return self.learner.name

    def fit(self, X: np.ndarray, y: np.ndarray, on_fold=None) -> "BaggedLearner":
        """``on_fold(name, fold, seconds)`` is called after each fold (progress reporting)."""
        self.models_, self.oof_ = [], np.full(len(y), np.nan)
        for fold, (train, held_out) in enumerate(self.folds):
            started = time.perf_counter()
            model = self.learner.clone(seed=self.learner.seed * 1000 + fold).fit(X[train], y[train])
            self.oof_[held_out] = model.predict(X[held_out])
            self.models_.append(model)
            if on_fold is not None:
                on_fold(self.name, fold, time.perf_counter() - started)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.mean([model.predict(X) for model in self.models_], axis=0)
