"""MovieLens in its GroupLens formats, the embedded ML-100K, and any interactions file, into ``RatingsData``.

- no path: the embedded ML-100K (943 users, 1,682 films, 100,000 ratings), read from the files
  the ``recbole`` wheel ships (``pip install --no-deps recbole==1.2.1``): ``.inter`` is GroupLens's
  ``u.data`` in its original order, ``.user`` the demographics, ``.item`` genres and release year;
- a folder with ``u.data`` (ml-100k), ``ratings.dat`` (ml-1m, ``::``-separated) or ``ratings.csv``
  (ml-latest, ml-25m, ml-32m), with their film and user files where present;
- ``load_interactions``: a CSV or Parquet of ``user, item, rating[, timestamp]`` under any names.

The MovieLens licence forbids redistribution: nothing here is ever written into the repository.
"""

import importlib.util
import re
from pathlib import Path

import pandas as pd

from pel_torch.data.files import read_table
from pel_torch.data.ratings import RatingsData, to_ratings_table
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                 "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


def embedded_folder() -> Path:
    spec = importlib.util.find_spec("recbole")
    if spec is None or spec.origin is None:
        raise DataError("the embedded MovieLens-100K comes with the recbole wheel: pip install --no-deps recbole==1.2.1 "
                        "(or give a GroupLens folder: data.paths=[path/to/ml-100k])")
    return Path(spec.origin).parent / "dataset_example" / "ml-100k"


def load_movielens(path: str | Path | None = None, *, scale=(1.0, 5.0)) -> RatingsData:
    """The embedded ML-100K (``path`` None) or a GroupLens folder (ml-100k, ml-1m, ml-latest / ml-25m / ml-32m)."""
    if path is None:
        return _embedded(embedded_folder(), tuple(scale))
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; give a GroupLens MovieLens folder (with u.data, ratings.dat or ratings.csv)")
    for name, reader in (("u.data", _ml100k), ("ratings.dat", _ml1m), ("ratings.csv", _mllatest)):
        if (folder / name).is_file():
            return reader(folder, tuple(scale))
    raise DataError(f"{folder}: no u.data, ratings.dat or ratings.csv; give a GroupLens MovieLens folder")


def load_interactions(path: str | Path, *, columns: dict | None = None, scale=(1.0, 5.0)) -> RatingsData:
    """A CSV or Parquet of ratings; ``columns`` maps ``user``, ``item``, ``rating``, ``timestamp`` to the file's names."""
    path = Path(path)
    raw = read_table(path, what="ratings file")
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - {"user", "item", "rating", "timestamp"})
    if unknown:
        raise DataError(f"{path}: columns mapping names {', '.join(unknown)}; map only user, item, rating, timestamp")
    absent = [own for own in mapping.values() if own not in raw.columns]
    if absent:
        raise DataError(f"{path}: columns mapping names {', '.join(absent)}, not columns of the file "
                        f"(found: {', '.join(map(str, raw.columns[:12]))}); fix the mapping")
    ratings, report = to_ratings_table(raw.rename(columns={own: canonical for canonical, own in mapping.items()}), str(path),
                                       scale=tuple(scale))
    return RatingsData(ratings, None, None, report)


def _embedded(folder: Path, scale) -> RatingsData:
    origin = f"embedded ml-100k ({folder})"
    inter = _read(folder / "ml-100k.inter", sep="\t")
    ratings, report = to_ratings_table(_strip_types(inter), origin, scale=scale)
    items = _strip_types(_read(folder / "ml-100k.item", sep="\t")).rename(columns={"item_id": "item", "movie_title": "title",
                                                                                  "release_year": "year", "class": "genres"})
    items["genres"] = items["genres"].str.split(" ").str.join("|")
    users = _strip_types(_read(folder / "ml-100k.user", sep="\t")).rename(columns={"user_id": "user", "zip_code": "zip"})
    return RatingsData(ratings, _keyed(users, "user"), _keyed(items, "item"), report)


def _ml100k(folder: Path, scale) -> RatingsData:
    def items(path):
        raw = _read(path, sep="|", names=["item", "title", "release_date", "video", "url", *ML100K_GENRES])
        flags = raw[list(ML100K_GENRES)].astype(int).astype(bool)
        genres = flags.apply(lambda row: "|".join(g for g, on in zip(ML100K_GENRES, row) if on), axis=1)
        return _split_title_year(raw.assign(genres=genres)[["item", "title", "genres"]])

    return _grouplens(folder, scale, ("u.data", "\t"), ("u.item", items), ("u.user", "|", ["user", "age", "gender", "occupation", "zip"]))


def _ml1m(folder: Path, scale) -> RatingsData:
    def items(path):
        return _split_title_year(_read(path, sep="::", names=["item", "title", "genres"]))

    return _grouplens(folder, scale, ("ratings.dat", "::"), ("movies.dat", items),
                      ("users.dat", "::", ["user", "gender", "age", "occupation", "zip"]))


def _grouplens(folder: Path, scale, ratings_file: tuple, items_file: tuple, users_file: tuple) -> RatingsData:
    """A GroupLens folder: ``(name, separator)`` of the ratings, ``(name, reader)`` of the films and
    ``(name, separator, columns)`` of the users; films and users are optional."""
    (name, sep), (items_name, read_items), (users_name, users_sep, user_columns) = ratings_file, items_file, users_file
    data = _read(folder / name, sep=sep, names=["user", "item", "rating", "timestamp"])
    ratings, report = to_ratings_table(data, str(folder / name), scale=scale)
    items = read_items(folder / items_name) if (folder / items_name).is_file() else None
    users = _read(folder / users_name, sep=users_sep, names=user_columns) if (folder / users_name).is_file() else None
    return RatingsData(ratings, _keyed(users, "user"), _keyed(items, "item"), report)


def _mllatest(folder: Path, scale) -> RatingsData:
    data = read_table(folder / "ratings.csv", what="MovieLens ratings.csv", required=("userId", "movieId", "rating"))
    data = data.rename(columns={"userId": "user", "movieId": "item"})
    ratings, report = to_ratings_table(data, str(folder / "ratings.csv"), scale=scale)
    items = None
    if (folder / "movies.csv").is_file():
        movies = read_table(folder / "movies.csv", what="MovieLens movies.csv", required=("movieId", "title", "genres"))
        items = _split_title_year(movies.rename(columns={"movieId": "item"})[["item", "title", "genres"]])
        items["genres"] = items["genres"].replace("(no genres listed)", None)
    return RatingsData(ratings, None, _keyed(items, "item"), report)


def _read(path: Path, **options) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the MovieLens folder")
    try:
        return pd.read_csv(path, dtype=str, encoding="latin-1", engine="python" if options.get("sep") == "::" else "c", **options)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot be read as a MovieLens file ({str(err).splitlines()[0]})") from None


def _strip_types(frame: pd.DataFrame) -> pd.DataFrame:
    """recbole's headers carry types (``user_id:token``): keep the names, map its ids to ``user``/``item``."""
    frame = frame.rename(columns=lambda c: c.split(":")[0])
    return frame.rename(columns={"user_id": "user", "item_id": "item"}) if "rating" in frame else frame


def _split_title_year(items: pd.DataFrame) -> pd.DataFrame:
    """GroupLens titles end with the year: ``"Toy Story (1995)"`` -> title ``Toy Story``, year 1995."""
    parts = items["title"].astype(str).str.strip().str.extract(TITLE_YEAR)
    return items.assign(title=parts["title"].fillna(items["title"]), year=parts["year"])


def _keyed(frame: pd.DataFrame | None, key: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    frame = frame.copy()
    frame[key] = frame[key].astype(str).str.strip()
    return frame.drop_duplicates(key).reset_index(drop=True)
