"""Film attributes that need no history: date parts, runtime, budget, MPAA, genres, language, country.

Missing numbers are filled with the training median and flagged, so no NaN ever leaves the
featurizer; runtime and log budget are clipped to the training 0.5%..99.5% range first.
"""

from collections import Counter

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.features.lists import explode, list_lengths

COUNTED_LISTS = ("director", "cast", "writers", "genres", "companies", "countries", "language")


class StaticEncoder:
    """``fit(frame)`` learns medians, clip ranges and vocabularies; ``transform`` gives ``(n, k)`` float64."""

    def __init__(self, top_languages: int = 10, top_countries: int = 10, min_genre_films: int = 5):
        self.top_languages = top_languages
        self.top_countries = top_countries
        self.min_genre_films = min_genre_films

    def fit(self, frame: pd.DataFrame) -> "StaticEncoder":
        raw = self._numbers(frame)
        self.medians_ = {name: _median(values) for name, values in raw.items()}
        self.clip_ = {name: _quantiles(raw[name]) for name in ("runtime", "log_budget")}
        self.vocabularies_ = {
            "genres": _vocabulary(frame["genres"], None, self.min_genre_films),
            "language": _vocabulary(frame["language"], self.top_languages, 1),
            "countries": _vocabulary(frame["countries"], self.top_countries, 1),
        }
        return self

    def feature_names(self) -> list[str]:
        names = []
        for name in self.medians_:
            names += [name, f"{name}_missing"]
        names += [f"mpaa_{label}" for label in schema.MPAA_LABELS] + ["mpaa_missing"]
        for field, vocabulary in self.vocabularies_.items():
            names += [f"{field}_{item}" for item in vocabulary] + [f"{field}_other"]
        return names + [f"n_{field}" for field in COUNTED_LISTS]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for name, values in self._numbers(frame).items():
            if name in self.clip_:
                values = np.clip(values, *self.clip_[name])
            missing = np.isnan(values)
            blocks += [np.where(missing, self.medians_[name], values), missing.astype(np.float64)]
        mpaa = frame["mpaa"].to_numpy(dtype=object)
        blocks += [(mpaa == label).astype(np.float64) for label in schema.MPAA_LABELS]
        blocks.append(pd.isna(mpaa).astype(np.float64))
        columns = [np.column_stack(blocks)]
        columns += [_multi_hot(frame[field], vocabulary) for field, vocabulary in self.vocabularies_.items()]
        columns.append(np.column_stack([list_lengths(frame[field]) for field in COUNTED_LISTS]))
        return np.hstack(columns)

    @staticmethod
    def _numbers(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        dates = pd.to_datetime(frame[schema.RELEASE_DATE])
        budget = frame["budget"].to_numpy(dtype=np.float64)
        return {
            "year": pd.to_numeric(frame[schema.YEAR], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan),
            "month": dates.dt.month.to_numpy(dtype=np.float64, na_value=np.nan),
            "weekday": dates.dt.day_of_week.to_numpy(dtype=np.float64, na_value=np.nan),
            "runtime": frame["runtime"].to_numpy(dtype=np.float64),
            "log_budget": np.log1p(budget),
        }

    def state(self) -> dict:
        return {"medians": self.medians_, "clip": self.clip_, "vocabularies": self.vocabularies_,
                "top_languages": self.top_languages, "top_countries": self.top_countries, "min_genre_films": self.min_genre_films}

    @classmethod
    def from_state(cls, spec: dict) -> "StaticEncoder":
        encoder = cls(spec["top_languages"], spec["top_countries"], spec["min_genre_films"])
        encoder.medians_, encoder.vocabularies_ = dict(spec["medians"]), dict(spec["vocabularies"])
        encoder.clip_ = {name: tuple(bounds) for name, bounds in spec["clip"].items()}
        return encoder


def _median(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(np.median(known)) if len(known) else 0.0


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    known = values[~np.isnan(values)]
    if not len(known):
        return (-np.inf, np.inf)
    low, high = np.quantile(known, [0.005, 0.995])
    return (float(low), float(high))


def _vocabulary(values: pd.Series, top: int | None, min_films: int) -> list[str]:
    counts = Counter(explode(values)[1])
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [item for item, n in ranked if n >= min_films][:top]


def _multi_hot(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    rows, items = explode(values)
    index = {item: i for i, item in enumerate(vocabulary)}
    columns = np.array([index.get(item, len(vocabulary)) for item in items], dtype=np.int64)
    out = np.zeros((len(values), len(vocabulary) + 1))
    out[rows, columns] = 1.0
    return out
