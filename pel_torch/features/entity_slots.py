"""Directors, cast, writers and companies as integer ids, the input of an entity-embedding network.

Each field gets a fixed number of slots (its first items); slot value 0 is an empty slot, 1 an
entity the history never showed often enough (fewer than ``min_films`` history films), 2.. a
known entity. The vocabulary comes from the history films only, so on the temporal split a
person first seen in the test years is "unknown", exactly as for a film not yet released.
"""

from collections import Counter

import numpy as np
import pandas as pd

from pel_torch.features.lists import explode

EMPTY, UNKNOWN = 0, 1
DEFAULT_FIELDS = {"director": 2, "cast": 5, "writers": 3, "companies": 3}


class EntitySlots:
    """``fit(history)`` learns one vocabulary per field; ``transform(frame)`` gives ``(n, sum(limits))`` int64 ids."""

    def __init__(self, fields: dict[str, int] | None = None, min_films: int = 2):
        self.fields = dict(DEFAULT_FIELDS if fields is None else fields)
        self.min_films = min_films

    def fit(self, history: pd.DataFrame) -> "EntitySlots":
        self.vocabularies_ = {}
        for field, limit in self.fields.items():
            _, items = explode(history[field], limit)
            counts = Counter(items)
            kept = sorted(item for item, count in counts.items() if count >= self.min_films)
            self.vocabularies_[field] = {item: i + 2 for i, item in enumerate(kept)}
        return self

    @property
    def vocabulary_sizes(self) -> list[int]:
        """Embedding rows per field, the empty and unknown ids included."""
        return [len(self.vocabularies_[field]) + 2 for field in self.fields]

    def field_slices(self) -> list[slice]:
        """Which columns of ``transform``'s output belong to each field, in ``fields`` order."""
        bounds = np.cumsum([0, *self.fields.values()])
        return [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for field, limit in self.fields.items():
            rows, items = explode(frame[field], limit)
            vocabulary = self.vocabularies_[field]
            ids = np.array([vocabulary.get(item, UNKNOWN) for item in items], dtype=np.int64)
            # An item's position within its film: explode keeps each cell's items together and in order.
            starts = np.searchsorted(rows, rows, side="left")
            block = np.full((len(frame), limit), EMPTY, dtype=np.int64)
            block[rows, np.arange(len(rows)) - starts] = ids
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.int64)

    def state(self) -> dict:
        return {"fields": self.fields, "min_films": self.min_films,
                "vocabularies": {field: list(vocabulary) for field, vocabulary in self.vocabularies_.items()}}

    @classmethod
    def from_state(cls, state: dict) -> "EntitySlots":
        slots = cls(state["fields"], state["min_films"])
        slots.vocabularies_ = {field: {item: i + 2 for i, item in enumerate(items)} for field, items in state["vocabularies"].items()}
        return slots
