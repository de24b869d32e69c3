"""Rolling-origin evaluation: forecast from several cut-off points of each series and score what followed.

Window k of n cuts every series ``horizon * (n - k)`` periods before its end (step = horizon, so
the windows' test periods tile the last ``n * horizon`` periods without overlap); the forecaster
sees only what precedes the cut. A competition panel with an official test part is scored once, on it.
"""

from collections.abc import Callable

import numpy as np

from pel_torch.data.panels import Panel
from pel_torch.errors import DataError
from pel_torch.forecasting.metrics import METRICS, coverage, panel_errors
from pel_torch.forecasting.statistical import Forecast

Forecaster = Callable[[np.ndarray, int, int], Forecast]   # (history, period, horizon) -> Forecast


def windows(panel: Panel, horizon: int, n_windows: int) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """``[(histories, actuals)]`` per window, oldest first; the official split alone where the panel has one."""
    if panel.test is not None:
        return [(panel.values, panel.test)]
    shortest = min(len(v) for v in panel.values)
    if shortest <= n_windows * horizon + 1:
        raise DataError(f"the shortest series has {shortest} periods: too few for {n_windows} windows of {horizon} "
                        f"plus a history; lower horizon= or the number of windows")
    cuts = [horizon * (n_windows - k) for k in range(n_windows)]
    return [([v[:len(v) - cut] for v in panel.values], [v[len(v) - cut:len(v) - cut + horizon] for v in panel.values]) for cut in cuts]


def evaluate(panel: Panel, forecaster: Forecaster, horizon: int, n_windows: int = 1) -> dict:
    """Per metric the mean over windows, ``<metric>_windows`` the per-window values, ``coverage80``; and the
    methods that produced the forecasts with how often (fallbacks name themselves)."""
    per_window, covered, methods = {name: [] for name in METRICS}, [], {}
    for histories, actuals in windows(panel, horizon, n_windows):
        forecasts = [forecaster(h, panel.period, horizon) for h in histories]
        errors = panel_errors(histories, actuals, [f.mean for f in forecasts], panel.period)
        for name in METRICS:
            per_window[name].append(errors[name])
        covered.append(coverage(actuals, [f.p10 for f in forecasts], [f.p90 for f in forecasts]))
        for f in forecasts:
            methods[f.method] = methods.get(f.method, 0) + 1
    out = {name: float(np.mean(values)) for name, values in per_window.items()}
    out.update({f"{name}_windows": values for name, values in per_window.items()})
    out["coverage80"] = float(np.mean(covered))
    out["methods"] = methods
    return out
