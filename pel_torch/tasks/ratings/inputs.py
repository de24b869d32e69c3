"""Ratings -> the engine's raw inputs: ids, each user's recent ratings, and causal features, in named groups.

Columns, in order (``groups_``):
- ``user`` (1) and ``item`` (1): indices from the training ratings, 0 for a user or film never
  seen in them (an embedding's padding row: it predicts from the other side alone);
- ``history`` (3 x ``history_length``): the user's last training ratings strictly before this one,
  oldest first: the film's index, its rating minus the training mean, log1p of the days since it;
  zeros where the user has fewer;
- ``features``: what trees read. The user's and the film's count and smoothed mean rating over
  training ratings strictly before this one (never the rating itself), the user's age, gender and
  occupation, the film's genres and year, the rating's date and the film's age at it; with a film
  table joined (``credits.py``), the same count and mean over the film's directors, writers and cast;
- ``day`` (1): the rating's day, whole days since 1970-01-01 UTC, -1 where it has no timestamp: for
  models of what a user felt on one day (a day's ratings run high or low together). Kept whole so it
  is exact in float32.
"Before" is time, then file order; a rating without a timestamp sits at its place in the file,
and a pair to predict without one comes after every training rating. Only the ratings ``fit`` is given
ever enter history or statistics (the training ones, and the validation ones where the members are refitted
on them: ``RatingSplit.known``); test ratings are never read back as inputs.
"""

import numpy as np
import pandas as pd

from pel_torch.data.ratings import RatingsData
from pel_torch.features.history import EntityHistory
from pel_torch.features.lists import explode
from pel_torch.features.sequences import RecentHistory
from pel_torch.tasks.ratings.credits import CreditStatistics

LINE_BITS = 27          # file order inside one second of time: up to 134M ratings
SECONDS_PER_DAY = 86400.0
STATE_VERSION = 2   # 2: the day group


def order_keys(timestamps: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """``(time, file order)`` as one int64: Unix seconds << 27 | line."""
    seconds = np.nan_to_num(np.asarray(timestamps, dtype=np.float64), nan=0.0).astype(np.int64)
    return (seconds << LINE_BITS) | np.asarray(lines, dtype=np.int64)


class RatingInputs:
    """``fit(data, train)`` learns indices, histories and statistics from the training ratings;
    ``transform(ratings)`` builds every row's inputs ``(n, n_inputs)`` float64."""

    def __init__(self, history_length: int = 20, smoothing: float = 5.0, min_occupation: int = 5, film_table: dict | None = None):
        self.history_length, self.smoothing, self.min_occupation = history_length, smoothing, min_occupation
        self.film_table = film_table      # {"source", "paths"} the credits were joined from, or None

    def settings(self) -> dict:
        return {"history_length": self.history_length, "smoothing": self.smoothing, "min_occupation": self.min_occupation,
                "film_table": self.film_table}

    def fit(self, data: RatingsData, train: np.ndarray, credits: dict | None = None) -> "RatingInputs":
        """``credits``: ``{item: {role: names}}`` of the films joined to ``film_table`` (``credits.join_credits``), or None."""
        rows = data.ratings.iloc[train]
        self.users_ = {u: i + 1 for i, u in enumerate(dict.fromkeys(rows["user"]))}
        self.items_ = {m: i + 1 for i, m in enumerate(dict.fromkeys(rows["item"]))}
        self.mean_rating_ = float(rows["rating"].mean())
        times = rows["timestamp"].to_numpy(dtype=np.float64)
        self.latest_time_ = float(np.nanmax(times)) if np.isfinite(times).any() else 0.0
        keys = order_keys(rows["timestamp"].to_numpy(), rows["line"].to_numpy())
        self.train_keys_ = np.sort(keys)
        position = np.searchsorted(self.train_keys_, keys)
        span = len(keys) + 1
        user, item = self._index(rows["user"], self.users_), self._index(rows["item"], self.items_)
        centred = rows["rating"].to_numpy(dtype=np.float64) - self.mean_rating_
        days = rows["timestamp"].to_numpy(dtype=np.float64) / SECONDS_PER_DAY
        self.user_history_ = EntityHistory(span).fit(user, position, centred[:, None])
        self.item_history_ = EntityHistory(span).fit(item, position, centred[:, None])
        self.recent_ = RecentHistory(self.history_length, span).fit(user, position, np.column_stack([item, centred, days]))
        self.side_ = _SideTables(data.users, data.items, self.min_occupation)
        self.credits_ = None if not credits else CreditStatistics(self.smoothing).fit(credits, rows["item"], position, centred, span)
        raw = self.transform(data.ratings.iloc[train])
        features = self.groups_["features"]
        self.mean_ = np.zeros(raw.shape[1])
        self.std_ = np.ones(raw.shape[1])
        self.mean_[features] = raw[:, features].mean(axis=0)
        std = raw[:, features].std(axis=0)
        self.std_[features] = np.where(std > 1e-12, std, 1.0)
        return self

    @property
    def groups_(self) -> dict[str, np.ndarray]:
        width = 3 * self.history_length
        n_features = len(self.feature_names_) - 3 - width
        bounds = np.cumsum([0, 1, 1, width, n_features, 1])
        return {name: np.arange(bounds[k], bounds[k + 1]) for k, name in enumerate(("user", "item", "history", "features", "day"))}

    @property
    def feature_names_(self) -> list[str]:
        steps = [f"history_{what}_{k}" for what in ("item", "rating", "days_ago") for k in range(self.history_length)]
        stats = [f"{who}_{what}" for who in ("user", "item") for what in ("prior_ratings", "mean_rating")]
        credits = self.credits_.names() if self.credits_ is not None else []
        return ["user", "item", *steps, *stats, "rating_year", "days_since_previous", *self.side_.names(), *credits, "day"]

    def transform(self, ratings: pd.DataFrame) -> np.ndarray:
        """``ratings``: rows with ``user``, ``item`` and optionally ``timestamp``, ``line``; ``(n, n_inputs)`` float64."""
        n = len(ratings)
        times = ratings["timestamp"].to_numpy(dtype=np.float64) if "timestamp" in ratings else np.full(n, np.nan)
        if "line" in ratings:
            position = np.searchsorted(self.train_keys_, order_keys(times, ratings["line"].to_numpy()))
        else:  # a pair to predict: after every training rating of an earlier second, or after all if undated
            position = np.where(np.isnan(times), len(self.train_keys_),
                                np.searchsorted(self.train_keys_, order_keys(times, np.zeros(n, dtype=np.int64))))
        day = np.where(np.isnan(times), -1.0, np.floor(times / SECONDS_PER_DAY))
        times = np.where(np.isnan(times), self.latest_time_, times)   # undated: as of the latest training rating
        user, item = self._index(ratings["user"], self.users_), self._index(ratings["item"], self.items_)
        steps, present = self.recent_.query(np.where(user > 0, user, -1), position)          # (n, k, 3)
        days = times / SECONDS_PER_DAY
        ago = np.where(present, np.log1p(np.maximum(np.nan_to_num(days[:, None] - steps[:, :, 2]), 0.0)), 0.0)
        since_previous = np.where(present[:, -1], ago[:, -1], -1.0)
        stats = [self._smoothed(history, ids, position) for history, ids in ((self.user_history_, user), (self.item_history_, item))]
        credits = [self.credits_.transform(ratings["item"], position)] if self.credits_ is not None else []
        return np.column_stack([user, item, steps[:, :, 0], steps[:, :, 1], ago, *stats,
                                _year(times), since_previous, self.side_.transform(ratings, times), *credits, day]).astype(np.float64)

    def standardize(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.mean_) / self.std_).astype(np.float32)

    def _smoothed(self, history: EntityHistory, ids: np.ndarray, position: np.ndarray) -> np.ndarray:
        films, counts, sums = history.query(np.where(ids > 0, ids, -1), position)
        return np.column_stack([np.log1p(films), sums[:, 0] / (counts[:, 0] + self.smoothing)])

    @staticmethod
    def _index(values: pd.Series, vocabulary: dict) -> np.ndarray:
        return values.astype(str).map(vocabulary).fillna(0).to_numpy(dtype=np.int64)

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"mean": self.mean_, "std": self.std_, "train_keys": self.train_keys_}
        for name, history in (("user_history", self.user_history_), ("item_history", self.item_history_), ("recent", self.recent_)):
            arrays.update({f"{name}.{key}": value for key, value in history.state().items()})
        credits = None
        if self.credits_ is not None:
            credit_arrays, credits = self.credits_.state()
            arrays.update({f"credits.{key}": value for key, value in credit_arrays.items()})
        spec = {"version": STATE_VERSION, **self.settings(), "mean_rating": self.mean_rating_, "latest_time": self.latest_time_,
                "users": list(self.users_),
                "items": list(self.items_), "side": self.side_.state(), "credits": credits,
                "feature_names": self.feature_names_}
        return arrays, spec

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], spec: dict) -> "RatingInputs":
        inputs = cls(spec["history_length"], spec["smoothing"], spec["min_occupation"], spec.get("film_table"))
        inputs.mean_, inputs.std_, inputs.train_keys_ = (np.asarray(arrays[k]) for k in ("mean", "std", "train_keys"))
        part = {name: {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(name + ".")}
                for name in ("user_history", "item_history", "recent")}
        inputs.user_history_ = EntityHistory.from_state(part["user_history"])
        inputs.item_history_ = EntityHistory.from_state(part["item_history"])
        inputs.recent_ = RecentHistory.from_state(part["recent"])
        inputs.mean_rating_, inputs.latest_time_ = spec["mean_rating"], spec["latest_time"]
        inputs.users_ = {u: i + 1 for i, u in enumerate(spec["users"])}
        inputs.items_ = {m: i + 1 for i, m in enumerate(spec["items"])}
        inputs.side_ = _SideTables.from_state(spec["side"])
        credits = spec.get("credits")    # absent from checkpoints written before film tables joined
        inputs.credits_ = None if credits is None else CreditStatistics.from_state(
            {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("credits.")}, credits)
        return inputs


def _year(times: np.ndarray) -> np.ndarray:
    return 1970.0 + times / (365.25 * SECONDS_PER_DAY)


class _SideTables:
    """Users' age, gender and occupation; films' genres and year: looked up by id, missing values flagged."""

    def __init__(self, users: pd.DataFrame | None, items: pd.DataFrame | None, min_occupation: int = 5):
        users = users if users is not None else pd.DataFrame(columns=["user"])
        items = items if items is not None else pd.DataFrame(columns=["item"])
        self.age = _column(users, "user", "age", numeric=True)
        self.gender = _column(users, "user", "gender")
        self.occupation = _column(users, "user", "occupation")
        self.year = _column(items, "item", "year", numeric=True)
        self.genres = _column(items, "item", "genres")
        occupations = pd.Series(list(self.occupation.values())).value_counts()
        self.vocabulary = {"gender": sorted(set(self.gender.values())),
                           "occupation": sorted(occupations[occupations >= min_occupation].index),
                           "genres": sorted(set(explode(pd.Series(list(self.genres.values())))[1]))}
        self.medians = {"age": _median(self.age), "year": _median(self.year)}

    def names(self) -> list[str]:
        return (["age", "age_missing", "film_year", "film_year_missing", "film_age_at_rating"]
                + [f"gender_{g}" for g in self.vocabulary["gender"]] + [f"occupation_{o}" for o in self.vocabulary["occupation"]]
                + ["occupation_other"] + [f"genre_{g}" for g in self.vocabulary["genres"]])

    def transform(self, ratings: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        users, items = ratings["user"].astype(str), ratings["item"].astype(str)
        age = users.map(self.age).to_numpy(dtype=np.float64)
        year = items.map(self.year).to_numpy(dtype=np.float64)
        blocks = [np.where(np.isnan(age), self.medians["age"], age), np.isnan(age), np.where(np.isnan(year), self.medians["year"], year),
                  np.isnan(year), np.nan_to_num(_year(times) - np.where(np.isnan(year), self.medians["year"], year))]
        gender, occupation = users.map(self.gender), users.map(self.occupation)
        blocks += [(gender == g).to_numpy() for g in self.vocabulary["gender"]]
        blocks += [(occupation == o).to_numpy() for o in self.vocabulary["occupation"]]
        blocks.append((occupation.notna() & ~occupation.isin(self.vocabulary["occupation"])).to_numpy())
        genres = items.map(self.genres).astype(object).fillna("")  # all-unknown films map to float NaN
        blocks += [genres.str.split("|").map(lambda gs, g=g: g in gs).to_numpy() for g in self.vocabulary["genres"]]
        return np.column_stack(blocks).astype(np.float64)

    def state(self) -> dict:
        return {name: getattr(self, name) for name in ("age", "gender", "occupation", "year", "genres", "vocabulary", "medians")}

    @classmethod
    def from_state(cls, spec: dict) -> "_SideTables":
        tables = cls.__new__(cls)
        for name, value in spec.items():
            setattr(tables, name, value)
        return tables


def _column(frame: pd.DataFrame, key: str, column: str, numeric: bool = False) -> dict:
    if column not in frame:
        return {}
    values = frame.set_index(frame[key].astype(str))[column]
    if numeric:
        return {k: float(v) for k, v in pd.to_numeric(values, errors="coerce").items() if np.isfinite(v)}
    return {k: str(v) for k, v in values.items() if isinstance(v, str) and v.strip()}


def _median(values: dict) -> float:
    known = np.array(list(values.values()), dtype=np.float64)
    return float(np.median(known)) if len(known) else 0.0
