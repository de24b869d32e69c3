"""Explode ``|``-joined list cells into (row, item) pairs, the shape every list encoder works on."""

import numpy as np
import pandas as pd

from pel_torch.data.schema import LIST_SEPARATOR


def explode(values: pd.Series, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(m,)`` and items ``(m,)`` of a list column; ``limit`` keeps the first items of each cell."""
    items = values.reset_index(drop=True).map(lambda text: text.split(LIST_SEPARATOR)[:limit], na_action="ignore").explode().dropna()
    return items.index.to_numpy(dtype=np.int64), items.to_numpy(dtype=object)


def list_lengths(values: pd.Series) -> np.ndarray:
    return values.map(lambda text: len(text.split(LIST_SEPARATOR)), na_action="ignore").fillna(0).to_numpy(dtype=np.float64)
