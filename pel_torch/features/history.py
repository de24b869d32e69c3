"""Causal per-entity statistics: what was known about a director, actor or company before a film.

For each (entity, query day) pair we need the number of earlier history films of the entity and
the sum of their targets. Sorting the history by ``entity * SPAN + day`` turns both into one
``searchsorted`` against prefix sums, so a query costs O(log n) with no Python loop.
"""

import numpy as np


UNKNOWN_DAY = -1  # a day nothing can be said to precede
SPAN = 1 << 17  # more days than 1800..2150; keeps entity and day apart inside one int64 key


class EntityHistory:
    """Fitted on ``(entity ids, latest day, targets)`` of history films; queried at earliest days.

    ``span``: more than the largest day; a task whose "days" are positions in time order (ratings)
    passes their count. Fitted state: ``keys_`` (n,) int64 sorted, ``counts_`` and ``sums_``
    (n + 1, n_targets) prefix sums of target presence and value (NaN targets count as absent).
    """

    def __init__(self, span: int = SPAN):
        self.span = int(span)

    def fit(self, entity_ids: np.ndarray, days: np.ndarray, targets: np.ndarray) -> "EntityHistory":
        """``entity_ids`` (m,), latest release ``days`` (m,), ``targets`` (m, n_targets) with NaN where unknown."""
        known = days != UNKNOWN_DAY
        keys = entity_ids[known].astype(np.int64) * self.span + days[known]
        order = np.argsort(keys, kind="stable")
        self.keys_ = keys[order]
        values = targets[known][order]  # (n, n_targets)
        present = ~np.isnan(values)
        zero = np.zeros((1, values.shape[1]))
        self.counts_ = np.concatenate([zero, np.cumsum(present, axis=0)])
        self.sums_ = np.concatenate([zero, np.cumsum(np.where(present, values, 0.0), axis=0)])
        return self

    def query(self, entity_ids: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each pair: earlier films ``(m,)``, earlier films with each target ``(m, t)`` and their target sums ``(m, t)``.

        Unknown entities (id -1) and unknown days get zeros: nothing can be said to precede them.
        """
        usable = (entity_ids >= 0) & (days != UNKNOWN_DAY)
        entity = np.where(usable, entity_ids, 0).astype(np.int64)
        start = np.searchsorted(self.keys_, entity * self.span, side="left")
        stop = np.searchsorted(self.keys_, entity * self.span + np.where(usable, days, 0), side="left")
        stop = np.where(usable, stop, start)
        films = (stop - start).astype(np.float64)
        return films, self.counts_[stop] - self.counts_[start], self.sums_[stop] - self.sums_[start]

    def state(self) -> dict[str, np.ndarray]:
        arrays = {"keys": self.keys_, "counts": self.counts_, "sums": self.sums_}
        return arrays if self.span == SPAN else {**arrays, "span": np.array(self.span, dtype=np.int64)}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray]) -> "EntityHistory":
        history = cls(int(np.asarray(arrays["span"]).reshape(-1)[0]) if "span" in arrays else SPAN)
        history.keys_, history.counts_, history.sums_ = arrays["keys"], arrays["counts"], arrays["sums"]
        return history
