"""``FilmFeaturizer``: canonical film table -> float32 matrix with named, normalised columns.

Fitted on a *history* frame (the films a forecaster may know about, with the targets it may
know), it applies one rule to every film, training or new: only history films released strictly
before a film inform its track-record features. Missing values are imputed and flagged, so the
output never holds NaN (downstream converters rely on that). The fitted state is plain arrays
plus a JSON spec, so a checkpoint can carry it without pickling.
"""

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.errors import PelError
from pel_torch.features.history import UNKNOWN_DAY
from pel_torch.tasks.box_office.entities import EntityEncoder
from pel_torch.tasks.box_office.static import StaticEncoder
from pel_torch.tasks.box_office.timeline import release_window

STATE_VERSION = 1


class FilmFeaturizer:
    """Feature builder for the canonical table.

    Parameters
    ----------
    targets : targets whose smoothed per-entity means become features (log1p for revenue and votes).
    lead_cast : how many billed cast members count; None for all (sources whose cast is alphabetical).
    smoothing : pseudo-count ``m`` pulling an entity's mean toward the global prior.
    temporal_differences : append the paper's ``D_t = X_t - X_{t-1}``, where ``X_{t-1}`` holds the
        attributes of the latest *catalog* film released strictly before the film (the same answer
        whatever else is in the batch). The catalog is every film whose pre-release attributes were
        known to ``fit`` (by default the history). Its targets are never read: a film released before
        ``t`` was public at ``t``, whether or not its box office is held out.
    """

    def __init__(self, targets=("revenue", "rating", "votes"), lead_cast: int | None = 3, smoothing: float = 10.0,
                 top_languages: int = 10, top_countries: int = 10, min_genre_films: int = 5,
                 temporal_differences: bool = False):
        self.targets = tuple(targets)
        self.lead_cast = lead_cast
        self.smoothing = smoothing
        self.top_languages = top_languages
        self.top_countries = top_countries
        self.min_genre_films = min_genre_films
        self.temporal_differences = temporal_differences

    def settings(self) -> dict:
        """The constructor arguments, as JSON: two featurizers with equal settings fitted on the same films are equal."""
        return {"targets": list(self.targets), "lead_cast": self.lead_cast, "smoothing": self.smoothing,
                "top_languages": self.top_languages, "top_countries": self.top_countries,
                "min_genre_films": self.min_genre_films, "temporal_differences": self.temporal_differences}

    def fit(self, history: pd.DataFrame, catalog: pd.DataFrame | None = None) -> "FilmFeaturizer":
        """Learn vocabularies, track records and normalisation from ``history`` (n_films rows);
        ``catalog``: the films temporal differences may look back to (default ``history``)."""
        _check_frame(history, "history")
        if not len(history):
            raise PelError("featurizer: the history frame is empty; fit on at least one film")
        self.static_ = StaticEncoder(self.top_languages, self.top_countries, self.min_genre_films).fit(history)
        fields = {"director": None, "cast": self.lead_cast, "writers": None, "companies": None}
        self.entities_ = EntityEncoder(fields, self.targets, self.smoothing).fit(history)
        base = self._base(history)
        if self.temporal_differences:
            self._fit_previous(history if catalog is None else catalog)
        raw = self._with_differences(history, base)
        self.mean_ = raw.mean(axis=0)
        std = raw.std(axis=0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        names = self.static_.feature_names() + self.entities_.feature_names()
        self.feature_names_ = names + ([f"diff_{name}" for name in names] if self.temporal_differences else [])
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``(n_films, n_features)`` float32, standardised with the history's mean and std; never NaN."""
        return self.standardize(self.transform_raw(frame))

    def transform_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """``(n_films, n_features)`` float64 before standardisation: the compiled stack's input."""
        _check_frame(frame, "films")
        raw = self._with_differences(frame, self._base(frame))
        if not np.isfinite(raw).all():
            raise AssertionError("featurizer produced non-finite values; this is a bug, please report it")
        return raw

    def standardize(self, raw: np.ndarray) -> np.ndarray:
        """``(raw - mean) / std`` in float64, then float32; ``stack.Standardize`` computes the same bits."""
        return ((raw - self.mean_) / self.std_).astype(np.float32)

    def fit_transform(self, history: pd.DataFrame) -> np.ndarray:
        return self.fit(history).transform(history)

    def _base(self, frame: pd.DataFrame) -> np.ndarray:
        return np.hstack([self.static_.transform(frame), self.entities_.transform(frame)])

    def _fit_previous(self, catalog: pd.DataFrame) -> None:
        _check_frame(catalog, "catalog")
        _, latest = release_window(catalog)
        dated = np.flatnonzero(latest != UNKNOWN_DAY)  # an undated film is "before" nothing we can prove
        order = dated[np.argsort(latest[dated], kind="stable")]
        self.previous_days_, self.previous_rows_ = latest[order], self._base(catalog.iloc[order])

    def _with_differences(self, frame: pd.DataFrame, base: np.ndarray) -> np.ndarray:
        if not self.temporal_differences:
            return base
        earliest, _ = release_window(frame)
        before = np.searchsorted(self.previous_days_, earliest, side="left") - 1
        previous = np.where((before >= 0)[:, None], self.previous_rows_[np.maximum(before, 0)], base)
        return np.hstack([base, base - previous])

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Fitted state as named arrays and a JSON-serialisable spec."""
        entity_arrays, entity_spec = self.entities_.state()
        arrays = {f"entities.{key}": value for key, value in entity_arrays.items()}
        arrays.update({"mean": self.mean_, "std": self.std_})
        if self.temporal_differences:
            arrays.update({"previous_days": self.previous_days_, "previous_rows": self.previous_rows_})
        spec = {"version": STATE_VERSION, **self.settings(), "static": self.static_.state(), "entities": entity_spec,
                "feature_names": self.feature_names_}
        return arrays, spec

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], spec: dict) -> "FilmFeaturizer":
        if spec.get("version") != STATE_VERSION:
            raise PelError(f"featurizer state version {spec.get('version')} is not supported (expected {STATE_VERSION}); refit the featurizer")
        featurizer = cls(spec["targets"], spec["lead_cast"], spec["smoothing"], spec["top_languages"],
                         spec["top_countries"], spec["min_genre_films"], spec["temporal_differences"])
        featurizer.static_ = StaticEncoder.from_state(spec["static"])
        entity_arrays = {key.removeprefix("entities."): value for key, value in arrays.items() if key.startswith("entities.")}
        featurizer.entities_ = EntityEncoder.from_state(entity_arrays, spec["entities"])
        featurizer.mean_, featurizer.std_ = np.asarray(arrays["mean"]), np.asarray(arrays["std"])
        if featurizer.temporal_differences:
            featurizer.previous_days_, featurizer.previous_rows_ = np.asarray(arrays["previous_days"]), np.asarray(arrays["previous_rows"])
        featurizer.feature_names_ = list(spec["feature_names"])
        return featurizer


def _check_frame(frame: pd.DataFrame, what: str) -> None:
    missing = [column for column in schema.CANONICAL_COLUMNS if column not in frame.columns]
    if missing:
        raise PelError(f"featurizer: the {what} frame lacks canonical column(s) {', '.join(missing)}; load it with pel_torch.data.load_films")
