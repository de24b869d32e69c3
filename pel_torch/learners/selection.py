"""Caruana et al. (2004) ensemble selection: greedy forward selection with replacement."""

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
