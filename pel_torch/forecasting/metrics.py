"""Forecast accuracy as the forecasting competitions computed it: per series over the horizon, then averaged over series.

- MAPE: ``100 |y - f| / |y|``; undefined where ``y`` is 0, so such points are left out of their
  series' mean (the Tourism test sets hold no zeros, so the competition's numbers are unaffected).
- sMAPE: ``200 |y - f| / (|y| + |f|)``, 0 where both are 0.
- MASE: the mean absolute error over the mean absolute in-sample seasonal difference (lag
  ``period``; 1 for yearly data) of the history: Hyndman and Koehler (2006), as in the Tourism paper.
- RMSE: per series; its mean over series is dominated by the largest series, so compare it on one panel only.
- coverage: the share of test points inside a forecast interval.
"""

import numpy as np

METRICS = ("mape", "smape", "mase", "rmse")


def mase_scale(history: np.ndarray, period: int) -> float:
    """The MASE denominator of a history: its mean absolute seasonal difference (lag 1 when shorter than a season)."""
    history = np.asarray(history, dtype=np.float64)
    lag = period if len(history) > period else 1
    return float(np.mean(np.abs(history[lag:] - history[:-lag]))) if len(history) > lag else np.nan


def series_errors(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """One series over the horizon; ``scale``: its history's ``mase_scale``."""
    actual, forecast = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    error = np.abs(actual - forecast)
    nonzero = actual != 0
    denominator = np.abs(actual) + np.abs(forecast)
    return {"mape": float(np.mean(100 * error[nonzero] / np.abs(actual[nonzero]))) if nonzero.any() else np.nan,
            "smape": float(np.mean(np.where(denominator > 0, 200 * error / np.where(denominator > 0, denominator, 1), 0.0))),
            "mase": float(np.mean(error) / scale) if scale > 0 else np.nan,
            "rmse": float(np.sqrt(np.mean(error ** 2)))}


def average(rows: list[dict[str, float]]) -> dict[str, float]:
    """Every metric of ``series_errors`` rows averaged over the series where it is defined, and how many series
    that is (``<metric>_series``)."""
    out = {}
    for name in METRICS:
        values = np.array([row[name] for row in rows])
        defined = np.isfinite(values)
        out[name] = float(values[defined].mean()) if defined.any() else np.nan
        out[f"{name}_series"] = int(defined.sum())
    return out


def panel_errors(histories: list[np.ndarray], actuals: list[np.ndarray], forecasts: list[np.ndarray], period: int) -> dict[str, float]:
    """``average`` of every series' errors, each scaled by its own history."""
    return average([series_errors(a, f, mase_scale(h, period)) for h, a, f in zip(histories, actuals, forecasts)])


def coverage(actuals: list[np.ndarray], lower: list[np.ndarray], upper: list[np.ndarray]) -> float:
    """The share of all test points inside ``[lower, upper]``."""
    inside = [(np.asarray(a) >= np.asarray(lo)) & (np.asarray(a) <= np.asarray(hi)) for a, lo, hi in zip(actuals, lower, upper)]
    return float(np.concatenate(inside).mean())
