"""Statistical forecasters, one series at a time: naive, seasonal naive and Theta, with 80% intervals.

Each takes the history (1-D, oldest first), the seasonal period and the horizon, and returns a
``Forecast``: the point forecast (the median) and the 10% / 90% quantiles under Gaussian errors.

Theta is the method of Assimakopoulos and Nikolopoulos (2000) as Hyndman and Billah (2003) showed
it to be, and as R's ``forecast::thetaf`` computes it: a 90% test for seasonality on the
autocorrelation at lag ``period``; classical multiplicative decomposition when it is seasonal
(additive where the moving-average trend touches zero or below, which the multiplicative one cannot
divide by: our deviation); simple exponential smoothing of the adjusted series plus half the slope of a
straight line through it; the seasonal indices put back.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

Z80 = 1.2815515655446004   # the standard normal's 90% quantile: an 80% central interval


@dataclass
class Forecast:
    mean: np.ndarray    # (horizon,) the point forecast, also the 50% quantile
    p10: np.ndarray
    p90: np.ndarray
    method: str         # what produced it: a fallback names itself


def _interval(mean: np.ndarray, sigma: np.ndarray, method: str) -> Forecast:
    return Forecast(mean, mean - Z80 * sigma, mean + Z80 * sigma, method)


def naive(history: np.ndarray, horizon: int) -> Forecast:
    """The last value, its error growing as a random walk's."""
    y = np.asarray(history, dtype=np.float64)
    sigma = np.sqrt(np.mean(np.diff(y) ** 2)) if len(y) > 1 else 0.0
    return _interval(np.full(horizon, y[-1]), sigma * np.sqrt(np.arange(1, horizon + 1)), "naive")


def seasonal_naive(history: np.ndarray, period: int, horizon: int) -> Forecast:
    """The value one season earlier; with less than one season of history (or ``period`` 1), the naive forecast."""
    y = np.asarray(history, dtype=np.float64)
    if period <= 1 or len(y) < period:
        return naive(y, horizon)
    steps = np.arange(horizon)
    residuals = y[period:] - y[:-period]
    sigma = np.sqrt(np.mean(residuals ** 2)) if len(residuals) else 0.0
    return _interval(y[len(y) - period + steps % period], sigma * np.sqrt(steps // period + 1), "seasonal_naive")


def is_seasonal(y: np.ndarray, period: int) -> bool:
    """``forecast::thetaf``'s test: |r_period| above 1.645 standard errors (Bartlett's), with over two seasons of data."""
    n = len(y)
    if period <= 1 or n <= 2 * period or np.ptp(y) == 0:
        return False
    centred = y - y.mean()
    r = np.array([np.sum(centred[k:] * centred[:n - k]) for k in range(1, period + 1)]) / np.sum(centred ** 2)
    stat = np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / n)
    return bool(abs(r[-1]) / stat > 1.6448536269514722)


def seasonal_indices(y: np.ndarray, period: int, multiplicative: bool | None = None) -> tuple[np.ndarray, bool]:
    """Classical decomposition (R's ``decompose``): per position ``i % period``, the mean ratio to a centred
    moving average, normalised to mean 1; the mean difference, normalised to mean 0, where that trend is
    not positive throughout, or where ``multiplicative`` is False. Returns the indices and whether they are ratios."""
    weights = np.ones(period + 1 - period % 2)
    if period % 2 == 0:
        weights[0] = weights[-1] = 0.5
    trend = np.convolve(y, weights / period, mode="valid")
    offset = len(weights) // 2
    multiplicative = bool(np.all(trend > 0)) and multiplicative is not False
    middle = y[offset:offset + len(trend)]
    detrended = middle / trend if multiplicative else middle - trend
    positions = np.arange(offset, offset + len(trend)) % period
    figure = np.array([detrended[positions == k].mean() for k in range(period)])
    return (figure / figure.mean() if multiplicative else figure - figure.mean()), multiplicative


def simple_exponential_smoothing(y: np.ndarray) -> tuple[float, float, float]:
    """``(alpha, last level, residual std)`` minimising the one-step squared errors over alpha and the initial level.

    For a fixed alpha the errors are linear in the initial level, so it is solved exactly and only
    alpha is searched."""
    n = len(y)

    def fit(alpha: float) -> tuple[float, float, float]:
        level, errors = 0.0, np.empty(n)
        for t in range(n):   # with initial level 0; the level's share in each error is (1 - alpha)^t
            errors[t] = y[t] - level
            level += alpha * errors[t]
        decay = (1 - alpha) ** np.arange(n)
        initial = float(np.dot(errors, decay) / np.dot(decay, decay))
        errors = errors - initial * decay
        return float(np.sum(errors ** 2)), level + initial * (1 - alpha) ** n, float(np.sqrt(np.mean(errors ** 2)))

    alpha = minimize_scalar(lambda a: fit(a)[0], bounds=(1e-4, 0.9999), method="bounded", options={"xatol": 1e-5}).x
    _, level, sigma = fit(alpha)
    return float(alpha), level, sigma


def theta(history: np.ndarray, period: int, horizon: int) -> Forecast:
    """The Theta method (see the module's docstring); fewer than 4 points: seasonal naive, which says so."""
    y = np.asarray(history, dtype=np.float64)
    n = len(y)
    if n < 4:
        fallback = seasonal_naive(y, period, horizon)
        return Forecast(fallback.mean, fallback.p10, fallback.p90, f"{fallback.method} (theta needs 4 points, the series has {n})")
    figure, multiplicative = seasonal_indices(y, period) if is_seasonal(y, period) else (None, False)
    if figure is not None and multiplicative and np.any(np.abs(figure) < 1e-4):
        figure = None   # thetaf: indices near zero would blow the adjusted series up
    positions = np.arange(n) % period
    adjusted = y if figure is None else (y / figure[positions] if multiplicative else y - figure[positions])
    alpha, level, sigma = simple_exponential_smoothing(adjusted)
    slope = np.polyfit(np.arange(n), adjusted, 1)[0]
    steps = np.arange(horizon)
    mean = level + slope / 2 * (steps + (1 - (1 - alpha) ** n) / alpha)
    spread = sigma * np.sqrt(1 + alpha ** 2 * steps)
    if figure is not None:
        future = figure[(n + steps) % period]
        mean, spread = (mean * future, spread * future) if multiplicative else (mean + future, spread)
    return _interval(mean, spread, "theta")
