"""Caruana et al. (2004) ensemble selection: greedy forward selection with replacement, over all rows or per group."""

import numpy as np


def ensemble_selection(predictions: np.ndarray, y: np.ndarray, rounds: int = 25) -> np.ndarray:
    """Weights ``(n_models,)`` summing to 1, chosen on ``predictions`` ``(n_rows, n_models)``.

    Each round adds the model whose inclusion minimises the MSE of the running average; a model
    may be picked many times, its weight being its share of the picks. Ties go to the first model.
    """
    n_models = predictions.shape[1]
    counts = np.zeros(n_models)
    total = np.zeros(len(y))
    for picked in range(1, rounds + 1):
        candidates = (total[:, None] + predictions) / picked           # (n_rows, n_models)
        errors = ((candidates - y[:, None]) ** 2).mean(axis=0)
        best = int(np.argmin(errors))
        counts[best] += 1
        total += predictions[:, best]
    return counts / rounds


def grouped_selection(predictions: np.ndarray, y: np.ndarray, group: np.ndarray, n_groups: int, rounds: int = 25) -> np.ndarray:
    """Weights ``(n_groups, n_models)``: ``ensemble_selection`` on each group's rows (``group`` (n_rows,) in
    ``0 .. n_groups - 1``). A group without rows gets the weights chosen on all rows."""
    shared = ensemble_selection(predictions, y, rounds)
    return np.stack([ensemble_selection(predictions[group == g], y[group == g], rounds) if np.any(group == g) else shared
                     for g in range(n_groups)])


def weighted(predictions: np.ndarray, weights: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """``(n,)``: each row of ``predictions`` (n, n_models) under ``weights`` (n_models,), or under its group's row of
    ``weights`` (n_groups, n_models)."""
    if weights.ndim == 1:
        return predictions @ weights
    return np.einsum("nm,nm->n", predictions, weights[group])


def one_hot_group(X: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each row's group: which of the one-hot ``columns`` of ``X`` is set (the largest, as the compiled head reads it)."""
    return np.argmax(np.asarray(X)[:, columns], axis=1)
