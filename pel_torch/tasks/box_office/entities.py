"""Track-record features for people and companies, from history films released strictly before each film.

For every entity of a film (its director, lead cast, writers, companies) we look up the earlier
history films of that entity: how many (experience) and the smoothed mean of each target
(``(sum + m * prior) / (count + m)``). A film's own target is never among its own history,
later films never are, and the same rule holds for training and new films alike.
"""

import numpy as np
import pandas as pd

from pel_torch.features.history import EntityHistory
from pel_torch.features.lists import explode
from pel_torch.tasks.box_office.targets import target_values
from pel_torch.tasks.box_office.timeline import release_window


class EntityEncoder:
    """``fields`` maps a list column to how many of its first items count (None: all)."""

    def __init__(self, fields: dict[str, int | None], targets: tuple[str, ...], smoothing: float = 10.0):
        self.fields = dict(fields)
        self.targets = tuple(targets)
        self.smoothing = smoothing

    def fit(self, history: pd.DataFrame) -> "EntityEncoder":
        _, latest = release_window(history)
        values = np.column_stack([target_values(history, name) for name in self.targets]) if self.targets else np.zeros((len(history), 0))
        self.priors_ = [float(np.nanmean(values[:, j])) if np.isfinite(values[:, j]).any() else 0.0 for j in range(values.shape[1])]
        self.vocabularies_, self.histories_ = {}, {}
        for field, limit in self.fields.items():
            rows, items = explode(history[field], limit)
            vocabulary = {item: i for i, item in enumerate(dict.fromkeys(items))}
            ids = np.array([vocabulary[item] for item in items], dtype=np.int64)
            self.vocabularies_[field] = vocabulary
            self.histories_[field] = EntityHistory().fit(ids, latest[rows], values[rows])
        return self

    def feature_names(self) -> list[str]:
        names = []
        for field in self.fields:
            names += [f"{field}_prior_films_max", f"{field}_prior_films_mean", f"{field}_known_share"]
            names += [f"{field}_{target}_{how}" for target in self.targets for how in ("mean", "max")]
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        earliest, _ = release_window(frame)
        n = len(frame)
        blocks = []
        for field, limit in self.fields.items():
            rows, items = explode(frame[field], limit)
            vocabulary = self.vocabularies_[field]
            ids = np.array([vocabulary.get(item, -1) for item in items], dtype=np.int64)
            films, counts, sums = self.histories_[field].query(ids, earliest[rows])
            experience = np.log1p(films)
            blocks += [_row_max(rows, experience, n, 0.0), _row_mean(rows, experience, n, 0.0), _row_mean(rows, (films > 0).astype(float), n, 0.0)]
            for j, prior in enumerate(self.priors_):
                smoothed = (sums[:, j] + self.smoothing * prior) / (counts[:, j] + self.smoothing)
                blocks += [_row_mean(rows, smoothed, n, prior), _row_max(rows, smoothed, n, prior)]
        return np.column_stack(blocks) if blocks else np.zeros((n, 0))

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {f"{field}.{key}": value for field, history in self.histories_.items() for key, value in history.state().items()}
        spec = {"fields": self.fields, "targets": list(self.targets), "smoothing": self.smoothing, "priors": self.priors_,
                "vocabularies": {field: list(vocabulary) for field, vocabulary in self.vocabularies_.items()}}
        return arrays, spec

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], spec: dict) -> "EntityEncoder":
        encoder = cls(spec["fields"], tuple(spec["targets"]), spec["smoothing"])
        encoder.priors_ = list(spec["priors"])
        encoder.vocabularies_ = {field: {item: i for i, item in enumerate(items)} for field, items in spec["vocabularies"].items()}
        encoder.histories_ = {
            field: EntityHistory.from_state({key: arrays[f"{field}.{key}"] for key in ("keys", "counts", "sums")})
            for field in encoder.fields
        }
        return encoder


def _row_mean(rows: np.ndarray, values: np.ndarray, n: int, empty: float) -> np.ndarray:
    counts = np.bincount(rows, minlength=n)
    sums = np.bincount(rows, weights=values, minlength=n)
    return np.where(counts > 0, sums / np.maximum(counts, 1), empty)


def _row_max(rows: np.ndarray, values: np.ndarray, n: int, empty: float) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, rows, values)
    return np.where(np.isfinite(out), out, empty)
