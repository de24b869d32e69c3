"""Other series to pretrain the global networks on (``pretrain.series``): shipped panels other than the one forecast.

Each series gives forecast rows laid out as the target's (its ``lags`` and ``horizon``), with its own
season for the statistical inputs, from origins ``horizon`` apart that end at its last known value
(up to ``split.max_origins`` of them). Tourism lends only its training part, never the competition's
held-out values.
"""

import numpy as np
import pandas as pd

from pel_torch.data.panels import Panel
from pel_torch.data.tourism import load_tourism
from pel_torch.errors import DataError
from pel_torch.tasks.genre_volume.data import genre_panel
from pel_torch.tasks.genre_volume.windows import MIN_KNOWN, forecast_rows

POOL = ("genres", "tourism_monthly", "tourism_quarterly", "tourism_yearly")


def pool_panel(name: str) -> Panel:
    if name == "genres":
        return genre_panel("D")
    return load_tourism(name.removeprefix("tourism_"))[0]


def own_dataset(data) -> str:
    """The pool's name for the data being forecast (``cfg.data``), or its source where the pool has no such name."""
    return f"tourism_{data.options.get('kind', 'monthly')}" if data.source == "tourism" else str(data.source)


def check_pool(names: list[str], data) -> None:
    """``pretrain.series`` names shipped panels, none of them the data being forecast (``cfg.data``)."""
    unknown = [name for name in names if name not in POOL]
    if unknown or not names:
        raise DataError(f"pretrain.series={list(names)}: pretraining reads one or more of {', '.join(POOL)}")
    if own_dataset(data) in names and not data.paths:
        raise DataError(f"pretrain.series names {own_dataset(data)}, the data being forecast: pretrain on other series")


def pool_rows(names: list[str], horizon: int, lags: int, max_origins: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Forecast rows (part ``pool``) of every series of the panels ``names``, and their raw inputs."""
    tables, raws = [], []
    for name in names:
        panel = pool_panel(name)
        origins = [sorted(range(len(v) - horizon, MIN_KNOWN - 1, -horizon))[-max_origins:] for v in panel.values]
        table, raw = forecast_rows([f"{name}:{i}" for i in panel.ids], panel.values, [None] * len(panel), origins, "pool",
                                   panel.period, horizon, lags)
        tables.append(table)
        raws.append(raw)
    return pd.concat(tables, ignore_index=True), np.vstack(raws)
