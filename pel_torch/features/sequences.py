"""Each row's most recent earlier rows of the same entity: what a sequence model reads (a user's last k ratings).

The same ``entity * span + position`` keys as ``EntityHistory``: one ``searchsorted`` finds where
a query's entity block starts and where its strictly-earlier rows end, so the k rows before it
are a slice, gathered for every query at once.
"""

import numpy as np


class RecentHistory:
    """Fitted on ``(entity ids, positions, values)`` of history rows; ``query`` returns the ``length``
    rows of each entity just before each query position, oldest first.

    ``span``: more than the largest position. Fitted state: ``keys_`` (m,) int64 sorted and
    ``values_`` (m, n_values) float64 in the same order.
    """

    def __init__(self, length: int, span: int):
        self.length, self.span = int(length), int(span)

    def fit(self, entity_ids: np.ndarray, positions: np.ndarray, values: np.ndarray) -> "RecentHistory":
        keys = entity_ids.astype(np.int64) * self.span + positions.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys_, self.values_ = keys[order], np.asarray(values, dtype=np.float64)[order]
        return self

    def query(self, entity_ids: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, length, n_values)`` values (zeros where there is no row) and ``(n, length)`` True where there is one.

        Entity ids below 0 (unknown) have no history."""
        entity = np.maximum(entity_ids.astype(np.int64), 0)
        start = np.searchsorted(self.keys_, entity * self.span, side="left")
        stop = np.searchsorted(self.keys_, entity * self.span + positions.astype(np.int64), side="left")
        stop = np.where(entity_ids < 0, start, stop)
        index = stop[:, None] - np.arange(self.length, 0, -1)[None, :]          # (n, length), oldest first
        present = index >= start[:, None]
        values = self.values_[np.clip(index, 0, max(len(self.keys_) - 1, 0))] if len(self.keys_) else \
            np.zeros((*index.shape, self.values_.shape[1]))
        return np.where(present[..., None], values, 0.0), present

    def state(self) -> dict[str, np.ndarray]:
        return {"keys": self.keys_, "values": self.values_, "shape": np.array([self.length, self.span], dtype=np.int64)}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> "RecentHistory":
        length, span = (int(v) for v in arrays["shape"])
        history = cls(length, span)
        history.keys_, history.values_ = np.asarray(arrays["keys"]), np.asarray(arrays["values"])
        return history
