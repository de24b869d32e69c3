"""Caruana et al. (2004) ensemble selection: greedy forward selection with replacement, over all rows or per group."""

import numpy as np


def ensemble_selection(predictions: np.ndarray, y: np.ndarray, rounds: int = 25, row_weights: np.ndarray | None = None) -> np.ndarray:
    """Weights ``(n_models,)`` summing to 1, chosen on ``predictions`` ``(n_rows, n_models)``.

    Each round adds the model whose inclusion minimises the MSE of the running average (weighted by
    ``row_weights`` where given); a model may be picked many times, its weight being its share of the
    picks. Ties go to the first model.
    """
    row_weights = np.ones(len(y)) if row_weights is None else np.asarray(row_weights, dtype=np.float64)
    n_models = predictions.shape[1]
    counts = np.zeros(n_models)
    total = np.zeros(len(y))
    for picked in range(1, rounds + 1):
        candidates = (total[:, None] + predictions) / picked           # (n_rows, n_models)
        errors = row_weights @ (candidates - y[:, None]) ** 2
        best = int(np.argmin(errors))
        counts[best] += 1
        total += predictions[:, best]
    return counts / rounds


def grouped_selection(predictions: np.ndarray, y: np.ndarray, group: np.ndarray, n_groups: int, rounds: int = 25,
                      row_weights: np.ndarray | None = None) -> np.ndarray:
    """Weights ``(n_groups, n_models)``: ``ensemble_selection`` on each group's rows (``group`` (n_rows,) in
    ``0 .. n_groups - 1``). A group without rows gets the weights chosen on all rows."""
    row_weights = np.ones(len(y)) if row_weights is None else np.asarray(row_weights, dtype=np.float64)
    shared = ensemble_selection(predictions, y, rounds, row_weights)
    return np.stack([ensemble_selection(predictions[group == g], y[group == g], rounds, row_weights[group == g]) if np.any(group == g)
                     else shared for g in range(n_groups)])


def one_hot_group(X: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each row's group: which of the one-hot ``columns`` of ``X`` is set (the largest, as the compiled head reads it)."""
    return np.argmax(np.asarray(X)[:, columns], axis=1)
