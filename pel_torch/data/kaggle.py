"""Kaggle's TMDB-derived sources: "The Movies Dataset" (the paper's data) and "TMDB 5000".

Both store lists as lists of dicts in a string: Python repr with single quotes in The Movies
Dataset, JSON in TMDB 5000. They are parsed with ``json``/``ast.literal_eval``, which read
literals only and never execute code. A budget or revenue of 0 means unknown. Cast comes in
billing order (the ``order`` key).
"""

import ast
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.data.files import read_table
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

MOVIES_DATASET_FILES = ("movies_metadata.csv", "credits.csv", "keywords.csv")
TMDB5000_FILES = ("tmdb_5000_movies.csv", "tmdb_5000_credits.csv")
MOVIE_COLUMNS = ("id", "title", "budget", "revenue", "genres", "release_date", "runtime", "vote_average", "vote_count",
                 "production_companies", "production_countries", "original_language")
WRITING_JOBS = frozenset({"Screenplay", "Writer", "Author", "Novel", "Story", "Screenstory", "Characters"})


def load_movies_dataset(*paths: str | Path, today: dt.date | None = None) -> tuple[pd.DataFrame, CleaningReport]:
    """Load Kaggle "The Movies Dataset": ``movies_metadata.csv``, ``credits.csv`` and optionally
    ``keywords.csv``, given as files in that order or as the folder that holds them."""
    movies_path, credits_path, keywords_path = _resolve(paths, MOVIES_DATASET_FILES, "movies_dataset", optional_last=True)
    kind = "Kaggle 'The Movies Dataset'"
    movies = read_table(movies_path, what=f"{kind} movies_metadata.csv", required=MOVIE_COLUMNS,
                        hint=f"expected {kind} movies_metadata.csv (not credits.csv or keywords.csv)")
    credits = read_table(credits_path, what=f"{kind} credits.csv", required=("id", "cast", "crew"),
                         hint=f"expected {kind} credits.csv with columns cast, crew, id")
    keywords = None
    if keywords_path is not None:
        keywords = read_table(keywords_path, what=f"{kind} keywords.csv", required=("id", "keywords"),
                              hint=f"expected {kind} keywords.csv with columns id, keywords")
    return _load_tmdb_style(movies, credits.rename(columns={"id": "movie_id"}), keywords, movies_path.name, today)


def load_tmdb5000(*paths: str | Path, today: dt.date | None = None) -> tuple[pd.DataFrame, CleaningReport]:
    """Load Kaggle "TMDB 5000": ``tmdb_5000_movies.csv`` and ``tmdb_5000_credits.csv``, as files or their folder."""
    movies_path, credits_path = _resolve(paths, TMDB5000_FILES, "tmdb5000")
    kind = "Kaggle 'TMDB 5000'"
    movies = read_table(movies_path, what=f"{kind} tmdb_5000_movies.csv", required=MOVIE_COLUMNS + ("keywords",),
                        hint=f"expected {kind} tmdb_5000_movies.csv (not the credits file)")
    credits = read_table(credits_path, what=f"{kind} tmdb_5000_credits.csv", required=("movie_id", "cast", "crew"),
                         hint=f"expected {kind} tmdb_5000_credits.csv with columns movie_id, title, cast, crew")
    return _load_tmdb_style(movies, credits, movies[["id", "keywords"]], movies_path.name, today)


def _resolve(paths, names, source, optional_last=False) -> list[Path | None]:
    if len(paths) == 1 and Path(paths[0]).is_dir():
        folder = Path(paths[0])
        found = [folder / name for name in names]
        if optional_last and not found[-1].exists():
            found[-1] = None
        return found
    needed = len(names) - int(optional_last)
    if not needed <= len(paths) <= len(names):
        raise DataError(f"{source}: expected the files {', '.join(names)} in that order, or their folder; got {len(paths)} path(s)")
    return [Path(p) for p in paths] + [None] * (len(names) - len(paths))


def _load_tmdb_style(movies, credits, keywords, origin, today):
    report = CleaningReport(origin)
    # A few rows of movies_metadata.csv are shifted by a stray newline: their id is a date.
    valid_id = movies["id"].astype(str).str.strip().str.fullmatch(r"\d+")
    report.note("row", "malformed rows dropped (non-integer id, shifted columns)", int((~valid_id).sum()))
    movies = movies[valid_id].copy()
    movies["id"] = movies["id"].astype(str).str.strip()
    credits = credits.assign(movie_id=credits["movie_id"].astype(str).str.strip()).drop_duplicates("movie_id")
    people = credits.set_index("movie_id").reindex(movies["id"])
    crew = _parse_cells(people["crew"], report, "crew")
    raw = pd.DataFrame({
        "id": movies["id"].to_numpy(),
        "title": movies["title"].to_numpy(),
        "release_date": movies["release_date"].to_numpy(),
        "genres": _names_column(movies["genres"], report, "genres"),
        "companies": _names_column(movies["production_companies"], report, "companies"),
        "countries": _names_column(movies["production_countries"], report, "countries"),
        "language": movies["original_language"].to_numpy(),
        "director": _crew_names(crew, lambda p: p.get("job") == "Director"),
        "writers": _crew_names(crew, lambda p: p.get("job") in WRITING_JOBS),
        "cast": _cast_column(people["cast"], report),
        "runtime": movies["runtime"].to_numpy(),
        "budget": _zero_is_unknown(movies["budget"], "budget", report),
        "revenue": _zero_is_unknown(movies["revenue"], "revenue", report),
        "rating": movies["vote_average"].to_numpy(),
        "votes": movies["vote_count"].to_numpy(),
    })
    if keywords is not None:
        by_id = keywords.assign(id=keywords["id"].astype(str).str.strip()).drop_duplicates("id").set_index("id")["keywords"]
        raw["keywords"] = _names_column(by_id.reindex(movies["id"]), report, "keywords")
    frame, canonical_report = to_canonical(raw, origin, today=today)
    report.entries.extend(canonical_report.entries)
    return frame, report


def _parse_literal(text):
    """A list of dicts from JSON or a Python literal; None when absent or malformed."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, list) and all(isinstance(v, dict) for v in value) else None


def _join(names) -> str | None:
    names = [str(n).replace(schema.LIST_SEPARATOR, "/") for n in names if n]
    return schema.LIST_SEPARATOR.join(names) or None


def _parse_cells(values: pd.Series, report: CleaningReport, column: str) -> list:
    parsed = [_parse_literal(v) for v in values]
    malformed = sum(1 for text, value in zip(values, parsed) if value is None and isinstance(text, str) and text.strip())
    report.note(column, "malformed list cells read as missing", malformed)
    return parsed


def _names_column(values, report, column) -> np.ndarray:
    return np.array([_join(d.get("name") for d in items) if items else None for items in _parse_cells(values, report, column)], dtype=object)


def _crew_names(crew: list, keep) -> np.ndarray:
    return np.array([_join(p.get("name") for p in items if keep(p)) if items else None for items in crew], dtype=object)


def _cast_column(values, report) -> np.ndarray:
    def billed(items):
        ordered = sorted(items, key=lambda p: p.get("order", len(items)))
        return _join(p.get("name") for p in ordered)

    return np.array([billed(items) if items else None for items in _parse_cells(values, report, "cast")], dtype=object)


def _zero_is_unknown(values: pd.Series, column: str, report: CleaningReport) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    zero = numbers == 0
    report.note(column, "zeros read as unknown", int(zero.sum()))
    return values.where(~zero, None).to_numpy(dtype=object)
