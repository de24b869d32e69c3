"""Forecasts past the end of the data, for people: a CSV of ``series_id, date, p10, p50, p90`` and figures.

    python evaluate.py task=genre_volume evaluate_stage=scratch forecast.output=forecast.csv

Every series is forecast from its last value on, by the checkpoint's stack. The 80% interval is
split-conformal: per step ahead, the 10% and 90% quantiles of the stack's errors (over the series'
scale) on the validation origins, which the stack never trained on, around the forecast, widened
where needed to hold the forecast itself (p10 <= p50 <= p90).
Figures go to ``<output stem>_figures/``: one PNG per series and a grid of them all.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pel_torch.atomic import atomic_output, check_new_output  # noqa: E402
from pel_torch.errors import DataError  # noqa: E402

GRID_COLUMNS = 4
HISTORY_SHOWN = 4   # horizons of history drawn before the forecast


def conformal_interval(val: pd.DataFrame, val_forecast: np.ndarray, rows: pd.DataFrame, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step ahead, the 10% and 90% quantiles of the validation errors over the series' scale, around ``forecast``
    and widened to hold it."""
    errors = pd.DataFrame({"step": val["step"].to_numpy(), "error": (val["actual"].to_numpy() - val_forecast) / val["scale"].to_numpy()})
    quantiles = errors.groupby("step")["error"].quantile([0.1, 0.9]).unstack()
    spread = rows["scale"].to_numpy()
    lower = forecast + rows["step"].map(quantiles[0.1]).to_numpy() * spread
    upper = forecast + rows["step"].map(quantiles[0.9]).to_numpy() * spread
    # a model that erred one way on every validation origin would leave its own forecast outside: p10 <= p50 <= p90
    return np.minimum(lower, forecast), np.maximum(upper, forecast)


def future_dates(dates: pd.PeriodIndex | None, horizon: int) -> list[str]:
    """The ``horizon`` periods after ``dates``; ``t+1`` ... where the series has no calendar (a competition's)."""
    if dates is None:
        return [f"t+{k}" for k in range(1, horizon + 1)]
    return [str(dates[-1] + k) for k in range(1, horizon + 1)]


def write_forecast(frame: pd.DataFrame, histories: dict[str, tuple[list[str], np.ndarray]], output, *, overwrite: bool = False) -> list[Path]:
    """``frame``: ``series_id, date, p10, p50, p90``; ``histories``: per series its dates and values, for the figures."""
    output = Path(output)
    if output.suffix.lower() != ".csv":
        raise DataError(f"{output}: forecasts are written as CSV; use a .csv path for forecast.output")
    check_new_output(output, overwrite=overwrite)
    folder = output.with_name(f"{output.stem}_figures")
    folder.mkdir(exist_ok=True)
    with atomic_output(output) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.4f")
    written = [output]
    for series, rows in frame.groupby("series_id", sort=False):
        figure, axis = plt.subplots(figsize=(7, 3.6))
        _draw(axis, series, rows, *histories[series])
        figure.tight_layout()
        written.append(_save(figure, folder / f"{_safe(series)}.png"))
    figure, axes = _grid(frame["series_id"].nunique())
    for axis, (series, rows) in zip(axes, frame.groupby("series_id", sort=False)):
        _draw(axis, series, rows, *histories[series], small=True)
    figure.tight_layout()
    written.append(_save(figure, folder / "all_series.png"))
    return written


def validation_figure(rows: pd.DataFrame, windows: np.ndarray, forecast: np.ndarray, limit: int = 8):
    """Up to ``limit`` series (the largest) at one origin each: ``rows`` their forecast rows (series, step, actual),
    ``windows`` (n, lags) the values each row read, ``forecast`` (n,)."""
    largest = rows.groupby("series", sort=False)["scale"].first().nlargest(limit).index
    figure, axes = _grid(len(largest))
    for axis, series in zip(axes, largest):
        own = np.flatnonzero(rows["series"].to_numpy() == series)
        steps = rows["step"].to_numpy()[own] - 1
        axis.plot(np.arange(-windows.shape[1], 0), windows[own[0]], color="black", linewidth=1, label="window read")
        axis.plot(steps, rows["actual"].to_numpy()[own], color="black", linestyle=":", label="what came")
        axis.plot(steps, forecast[own], color="tab:blue", linewidth=1.6, label="forecast")
        axis.set_title(str(series), fontsize=9)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return figure


def _grid(n: int):
    """A figure of ``n`` small panels, ``GRID_COLUMNS`` a row, and those ``n`` axes; the rest of its last row is hidden."""
    figure, axes = plt.subplots(int(np.ceil(n / GRID_COLUMNS)), GRID_COLUMNS, figsize=(4 * GRID_COLUMNS, 2.6 * np.ceil(n / GRID_COLUMNS)),
                                squeeze=False)
    for axis in axes.ravel()[n:]:
        axis.set_visible(False)
    return figure, axes.ravel()[:n]


def _draw(axis, series: str, rows: pd.DataFrame, dates: list[str], values: np.ndarray, small: bool = False) -> None:
    shown = HISTORY_SHOWN * len(rows)
    past = np.arange(-min(shown, len(values)), 0)
    ahead = np.arange(len(rows))
    axis.plot(past, values[-len(past):], color="black", linewidth=1, label="history")
    axis.plot(ahead, rows["p50"], color="tab:blue", linewidth=1.6, label="forecast (p50)")
    axis.fill_between(ahead, rows["p10"], rows["p90"], color="tab:blue", alpha=0.25, label="80% interval")
    axis.set_title(series, fontsize=9 if small else 11)
    if not small:
        axis.set_xlabel(f"periods from the last one ({dates[-1] if dates else 'end'}); forecast from {rows['date'].iloc[0]}")
        axis.legend(fontsize=8)
    axis.grid(alpha=0.3)


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "series"
