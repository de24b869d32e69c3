"""Exponential smoothing (ETS) with additive errors, its form chosen by AICc, one series at a time.

The forms are those of Hyndman et al. (2008) with additive errors: trend none or damped (``Ad``),
season none, additive or multiplicative; the multiplicative season only for positive series, a
season only with two full seasons of data. For each form the smoothing parameters (alpha, beta, gamma,
phi) and the initial level and trend minimise the one-step squared errors (the Gaussian likelihood's
maximum); the initial seasonal indices come from a classical decomposition of the first seasons
(the "heuristic" start) and stay fixed. The form with the lowest AICc, counting the seasonal
initial values among its parameters as R's ``forecast::ets`` does, forecasts.

Why our own: statsforecast pins pandas below 3 and statsmodels fits a series in tens of milliseconds;
this loop is compiled once by numba and fits a form in about a millisecond, which the task needs
(one fit per series per part: train, validation, test; see ``ExponentialSmoothing``).
"""

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import minimize

from pel_torch.forecasting.statistical import Forecast, Z80, seasonal_indices, seasonal_naive

NONE, ADDITIVE, MULTIPLICATIVE = 0, 1, 2
PHI_BOUNDS = (0.8, 0.98)


@njit(cache=True)
def _filter(y, alpha, beta, gamma, phi, level, trend, season, damped, kind):
    """One-step errors' sum of squares and the final states; ``season`` (period,) is the first season's indices,
    oldest first (unused when ``kind`` is NONE)."""
    period = len(season)
    s = season.copy()
    sse = 0.0
    for t in range(len(y)):
        base = level + phi * trend if damped else level
        index = s[t % period] if kind != NONE else 0.0
        fitted = base * index if kind == MULTIPLICATIVE else base + index
        error = y[t] - fitted
        sse += error * error
        if kind == MULTIPLICATIVE:
            level = base + alpha * error / index
            trend = phi * trend + beta * error / index if damped else 0.0
            s[t % period] = index + gamma * error / base
        else:
            level = base + alpha * error
            trend = phi * trend + beta * error if damped else 0.0
            if kind == ADDITIVE:
                s[t % period] = index + gamma * error
    return sse, level, trend, s


@dataclass
class Fitted:
    """A form's parameters and its initial states: run through any history that starts where its fit's did."""
    form: str
    damped: bool
    kind: int
    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    season: np.ndarray   # (period,) the initial indices, indexed by time modulo the period
    sigma: float         # the one-step errors' root mean square
    aicc: float


def _start(y: np.ndarray, period: int, kind: int) -> tuple[float, float, np.ndarray]:
    """The heuristic initial level, trend and season: decomposition of the first (up to) four seasons, then a line
    through the first (up to) ten adjusted values."""
    season = np.zeros(max(period, 1)) if kind != MULTIPLICATIVE else np.ones(max(period, 1))
    adjusted = y
    if kind != NONE:
        first = y[:min(len(y), 4 * period)]
        figure, ratios = seasonal_indices(first, period, multiplicative=kind == MULTIPLICATIVE)
        season = figure
        positions = np.arange(len(y)) % period
        adjusted = y / figure[positions] if ratios else y - figure[positions]
    head = adjusted[:min(len(adjusted), 10)]
    slope, intercept = np.polyfit(np.arange(len(head)), head, 1) if len(head) > 1 else (0.0, float(head[0]))
    return float(intercept), float(slope), season


def fit_form(y: np.ndarray, period: int, damped: bool, kind: int) -> Fitted | None:
    """One form fitted by L-BFGS-B on (alpha, beta/alpha, gamma/(1-alpha), phi, level, trend); None if it cannot be."""
    level0, trend0, season = _start(y, period, kind)
    if kind == MULTIPLICATIVE and np.any(season <= 0):
        return None
    scale = max(float(np.mean(np.abs(y))), 1e-12)   # the optimiser sees states in units of the series' size

    def unpack(p):
        alpha = p[0]
        return alpha, alpha * p[1], (1 - alpha) * p[2], p[3], p[4] * scale, p[5] * scale

    def loss(p):
        alpha, beta, gamma, phi, level, trend = unpack(p)
        return _filter(y, alpha, beta, gamma, phi, level, trend, season, damped, kind)[0] / scale ** 2

    start = np.array([0.3, 0.1, 0.1, 0.95 if damped else 1.0, level0 / scale, trend0 / scale if damped else 0.0])
    bounds = [(1e-4, 0.9999), (1e-4, 0.9999) if damped else (0.0, 0.0), (1e-4, 0.9999) if kind != NONE else (0.0, 0.0),
              PHI_BOUNDS if damped else (1.0, 1.0), (None, None), (None, None) if damped else (0.0, 0.0)]
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    alpha, beta, gamma, phi, level, trend = unpack(result.x)
    sse = _filter(y, alpha, beta, gamma, phi, level, trend, season, damped, kind)[0]
    n = len(y)
    k = 1 + 2 * damped + (kind != NONE) + 1 + damped + (period - 1 if kind != NONE else 0)   # parameters + initial states
    if not np.isfinite(sse) or n - k - 1 <= 0:
        return None
    aicc = n * np.log(max(sse / n, 1e-300)) + 2 * k + 2 * k * (k + 1) / (n - k - 1)
    form = "A" + ("Ad" if damped else "N") + "NAM"[kind]
    return Fitted(form, damped, kind, alpha, beta, gamma, phi, level, trend, season, float(np.sqrt(sse / n)), float(aicc))


def forms(y: np.ndarray, period: int) -> list[tuple[bool, int]]:
    """The forms a series can take: a season needs two full seasons, a multiplicative one a positive series."""
    kinds = [NONE]
    if period > 1 and len(y) >= 2 * period:
        kinds.append(ADDITIVE)
        if np.all(y > 0):
            kinds.append(MULTIPLICATIVE)
    return [(damped, kind) for kind in kinds for damped in (False, True)]


def fit(y: np.ndarray, period: int) -> Fitted | None:
    """The form with the lowest AICc; None when none could be fitted."""
    fitted = [f for damped, kind in forms(y, period) if (f := fit_form(y, period, damped, kind)) is not None]
    return min(fitted, key=lambda f: f.aicc) if fitted else None


def forecast_from(model: Fitted, y: np.ndarray, horizon: int) -> Forecast:
    """``model`` run through ``y`` (the history it was fitted on, or that history continued), then ``horizon`` steps
    ahead, with the additive-error model's Gaussian 80% interval (scaled by the season where it multiplies)."""
    m = model
    _, level, trend, season = _filter(y, m.alpha, m.beta, m.gamma, m.phi, m.level, m.trend, m.season, m.damped, m.kind)
    period, steps = len(season), np.arange(1, horizon + 1)
    damping = np.cumsum(m.phi ** steps) if m.damped else np.zeros(horizon)   # phi + ... + phi^h
    index = season[(len(y) + steps - 1) % period] if m.kind != NONE else np.zeros(horizon)
    base = level + damping * trend
    mean = base * index if m.kind == MULTIPLICATIVE else base + index
    # Hyndman et al. (2008), class 1: the h-step variance is sigma^2 (1 + sum_{j<h} c_j^2), c_j = alpha + beta phi_j + gamma [j % m == 0]
    c = m.alpha + m.beta * damping + m.gamma * (steps % period == 0)
    spread = m.sigma * np.sqrt(1 + np.concatenate([[0.0], np.cumsum(c[:-1] ** 2)]))
    if m.kind == MULTIPLICATIVE:
        spread = spread * index
    return Forecast(mean, mean - Z80 * spread, mean + Z80 * spread, f"ets {m.form}")


def ets(history: np.ndarray, period: int, horizon: int) -> Forecast:
    """ETS fitted on ``history`` and forecast from its end; under 4 points, or when no form fits, seasonal naive, which says so."""
    y = np.asarray(history, dtype=np.float64)
    model = fit(y, period) if len(y) >= 4 else None
    if model is None:
        fallback = seasonal_naive(y, period, horizon)
        return Forecast(fallback.mean, fallback.p10, fallback.p90, f"{fallback.method} (ets could not fit {len(y)} points)")
    return forecast_from(model, y, horizon)


class ExponentialSmoothing:
    """ETS over many origins of the same series, oldest origin first: fitted at the first origin it sees of a series,
    then run through the longer histories of its later origins with those parameters (the states move on). No
    forecast reads a fit made past its origin, and a series costs one fit per call instead of one per origin."""

    def __init__(self):
        self.models: dict = {}

    def __call__(self, series, history: np.ndarray, period: int, horizon: int) -> Forecast:
        y = np.asarray(history, dtype=np.float64)
        if series not in self.models:
            self.models[series] = fit(y, period) if len(y) >= 4 else None
        model = self.models[series]
        if model is None:
            return ets(y, period, horizon)
        return forecast_from(model, y, horizon)
