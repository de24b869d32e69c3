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
        X = self._read(X)
        self.models_, self.oof_ = [], np.full(len(y), np.nan)
        for fold, (train, held_out) in enumerate(self.folds):
            started = time.perf_counter()
            model = self.learner.clone(seed=self.learner.seed * 1000 + fold).fit(X[train], y[train], sizes, None if times is None else times[train])
            if len(held_out):   # a refit's one fold holds every row out of none
                self.oof_[held_out] = model.predict(X[held_out])
            self.models_.append(model)
            if on_fold is not None:
                on_fold(self.name, fold, time.perf_counter() - started)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = self._read(X)
        return np.mean([model.predict(X) for model in self.models_], axis=0)

    def _read(self, X: np.ndarray) -> np.ndarray:
        return X if self.columns is None else X[:, self.columns]
