"""Directors, writers and cast of the rated films, from the box-office task's film table, as causal
rating statistics: a film nobody has rated yet still carries its director's and its cast's record.

A rated film joins the film table when its normalised title and release year match exactly one
film there; films left over then join within a year (release and festival years differ). A key
that matches several films joins none. Only people credited on at least two of the joined films
are kept: a person with one film knows nothing the film's own statistics do not.

For each role, a rating's features are the people's training ratings strictly before it, pooled
over the film's people: how many (log1p) and their smoothed mean, centred on the training mean.
"""

import re

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.features.history import EntityHistory

ROLES = ("director", "writers", "cast")
ARTICLE_LAST = re.compile(r"^(?P<title>.*), (?P<article>the|a|an|il|la|le|les|l'|el|los|las|das|der|die)$")
CHUNK_ROWS = 100_000      # rows per query: a rating fans out to every credited person


def title_key(title) -> str:
    """``"Postino, Il (The Postman)"`` -> ``"il postino"``: articles in front, alternative titles dropped."""
    text = re.sub(r"\s*\(.*?\)", "", str(title)).strip().lower()
    match = ARTICLE_LAST.match(text)
    if match:
        text = f"{match['article']} {match['title']}"
    return re.sub(r"[^a-z0-9]+", " ", text.replace("&", " and ")).strip()


def join_credits(items: pd.DataFrame, films: pd.DataFrame) -> tuple[dict[str, dict[str, list[str]]], dict[str, int]]:
    """``items`` (``item``, ``title``, ``year``) against the canonical ``films``: ``{item: {role: names}}``
    and the counts ``joined``, ``joined_within_a_year``, ``ambiguous`` and ``unmatched``."""
    table = films.assign(key=films["title"].map(title_key), year=pd.to_numeric(films["year"], errors="coerce"))
    table = table[table["key"].ne("") & table["year"].notna()]
    duplicated = table.duplicated(["key", "year"], keep=False)
    unique = table[~duplicated].set_index(["key", "year"])
    ambiguous_keys = set(map(tuple, table.loc[duplicated, ["key", "year"]].itertuples(index=False)))
    credits, counts = {}, {"joined": 0, "joined_within_a_year": 0, "ambiguous": 0, "unmatched": 0}
    for item, title, year in zip(items["item"].astype(str), items["title"], pd.to_numeric(items["year"], errors="coerce")):
        key = title_key(title)
        if not key or pd.isna(year):
            counts["unmatched"] += 1
            continue
        if (key, year) in ambiguous_keys:
            counts["ambiguous"] += 1
            continue
        if (key, year) in unique.index:
            row, counted = unique.loc[(key, year)], "joined"
        else:
            near = [(key, y) for y in (year - 1, year + 1) if (key, y) in unique.index]
            if len(near) != 1:
                counts["ambiguous" if len(near) > 1 else "unmatched"] += 1
                continue
            row, counted = unique.loc[near[0]], "joined_within_a_year"
        counts[counted] += 1
        credits[item] = {role: _names(row.get(role)) for role in ROLES}
    return credits, counts


def _names(value) -> list[str]:
    return [name for name in str(value).split(schema.LIST_SEPARATOR) if name] if isinstance(value, str) else []


class CreditStatistics:
    """``fit(items, positions, centred)`` on training ratings; ``transform(items, positions)`` -> (n, 2 x roles)."""

    def __init__(self, smoothing: float):
        self.smoothing = smoothing

    def names(self) -> list[str]:
        return [f"{role}_{what}" for role in ROLES for what in ("prior_ratings", "mean_rating")]

    def fit(self, credits: dict[str, dict[str, list[str]]], items: pd.Series, positions: np.ndarray, centred: np.ndarray,
            span: int) -> "CreditStatistics":
        self.films_ = {item: k for k, item in enumerate(credits)}
        self.offsets_, self.people_, self.histories_ = {}, {}, {}
        film = self._film_index(items)
        for role in ROLES:
            lists = [credits[item][role] for item in credits]
            films_per_person = pd.Series([name for names in lists for name in set(names)], dtype=object).value_counts()
            vocabulary = {name: k for k, name in enumerate(films_per_person.index[films_per_person >= 2])}
            kept = [[vocabulary[name] for name in dict.fromkeys(names) if name in vocabulary] for names in lists]
            self.offsets_[role] = np.concatenate([[0], np.cumsum([len(people) for people in kept])]).astype(np.int64)
            self.people_[role] = np.array([p for people in kept for p in people], dtype=np.int64)
            row, person = self._pairs(role, film)
            self.histories_[role] = EntityHistory(span).fit(person, positions[row], centred[row, None])
        return self

    def transform(self, items: pd.Series, positions: np.ndarray) -> np.ndarray:
        film = self._film_index(items)
        out = np.zeros((len(film), 2 * len(ROLES)))
        for start in range(0, len(film), CHUNK_ROWS):
            chunk = slice(start, start + CHUNK_ROWS)
            films, at = film[chunk], positions[chunk]
            for k, role in enumerate(ROLES):
                row, person = self._pairs(role, films)
                _, counts, sums = self.histories_[role].query(person, at[row])
                n = len(films)
                total = np.bincount(row, weights=counts[:, 0], minlength=n)
                out[chunk, 2 * k] = np.log1p(total)
                out[chunk, 2 * k + 1] = np.bincount(row, weights=sums[:, 0], minlength=n) / (total + self.smoothing)
        return out

    def _film_index(self, items: pd.Series) -> np.ndarray:
        return items.astype(str).map(self.films_).fillna(-1).to_numpy(dtype=np.int64)

    def _pairs(self, role: str, film: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, person) pair of ``film``'s credited people in ``role``; films without credits give none."""
        offsets, known = self.offsets_[role], film >= 0
        starts = np.where(known, offsets[np.maximum(film, 0)], 0)
        sizes = np.where(known, offsets[np.maximum(film, 0) + 1] - starts, 0)
        row = np.repeat(np.arange(len(film)), sizes)
        within = np.arange(len(row)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return row, self.people_[role][np.repeat(starts, sizes) + within]

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {}
        for role in ROLES:
            arrays[f"{role}.offsets"], arrays[f"{role}.people"] = self.offsets_[role], self.people_[role]
            arrays.update({f"{role}.history.{key}": value for key, value in self.histories_[role].state().items()})
        return arrays, {"smoothing": self.smoothing, "films": list(self.films_)}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], spec: dict) -> "CreditStatistics":
        statistics = cls(spec["smoothing"])
        statistics.films_ = {item: k for k, item in enumerate(spec["films"])}
        statistics.offsets_ = {role: np.asarray(arrays[f"{role}.offsets"]) for role in ROLES}
        statistics.people_ = {role: np.asarray(arrays[f"{role}.people"]) for role in ROLES}
        statistics.histories_ = {role: EntityHistory.from_state({key.split(".", 2)[2]: value for key, value in arrays.items()
                                                                 if key.startswith(f"{role}.history.")}) for role in ROLES}
        return statistics
