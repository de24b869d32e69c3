"""Regression metrics, computed in one place: R2, MSE and MAE of a prediction."""

import numpy as np


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """``1 - SSE / SST`` of ``prediction`` against ``y`` (both ``(n,)``)."""
    return float(1 - ((y - prediction) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def regression_metrics(y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    residual = y - prediction
    return {"r2": r2_score(y, prediction), "mse": float((residual ** 2).mean()), "mae": float(np.abs(residual).mean())}
