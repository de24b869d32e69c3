"""The embedded default: bokeh-sampledata's CC0 Wikidata snapshot of 17,472 films (``movies.db``).

Tables ``omdb`` and ``tomatoes`` are joined on ``ID``: ``imdbID`` repeats for re-cuts such as
"Apocalypse Now Redux". ``omdb.Rating`` is the MPAA rating, not a score. The critics' average
``tomatoes.Rating`` is the rating target, ``tomatoes.Reviews`` its votes, ``tomatoes.BoxOffice``
the revenue. Meter, Fresh, Rotten, Metacritic, Awards and Oscars are known only after release
and are never read.
"""

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd

from pel_torch.data import schema
from pel_torch.data.cleaning import to_canonical
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

QUERY = """
SELECT o.ID AS id, o.Title AS title, o.Year AS year, o.Released AS release_date,
       o.Director AS director, o.Cast AS "cast", o.Writer AS writers, o.Genre AS genres,
       t.Production AS companies, o.Country AS countries, o.Language AS language,
       o.Rating AS mpaa, o.Runtime AS runtime,
       t.Rating AS rating, t.Reviews AS votes, t.BoxOffice AS revenue
FROM omdb AS o JOIN tomatoes AS t ON o.ID = t.ID
ORDER BY o.ID
"""

# Comma-joined names split "Sammy Davis, Jr." into a stray "Jr."; such tokens belong to the name before.
NAME_SUFFIXES = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV", "Inc.", "Inc", "Ltd.", "Ltd", "LLC", "L.L.C.", "S.A.", "Co."})
COMMA_JOINED = ("director", "cast", "writers", "genres", "companies", "countries", "language")


def default_path() -> Path:
    try:
        import bokeh_sampledata
    except ImportError:
        raise DataError("the wikidata source needs the package bokeh-sampledata: pip install bokeh-sampledata") from None
    return Path(bokeh_sampledata.__file__).parent / "_data" / "movies.db"


def load_wikidata(path: str | Path | None = None, *, today: dt.date | None = None) -> tuple[pd.DataFrame, CleaningReport]:
    """Load the Wikidata snapshot (``path`` defaults to the one bokeh-sampledata ships).

    Cast lists in this source are alphabetical, not in billing order, so there is no lead cast.
    Returns the canonical frame and what was cleaned.
    """
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        raise DataError(f"{path}: file not found; reinstall bokeh-sampledata or give the path to movies.db")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            raw = pd.read_sql_query(QUERY, connection)
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as err:
        raise DataError(f"{path}: not the bokeh-sampledata movies.db ({err}); give the right SQLite file") from None
    suffixes_merged = 0
    for column in COMMA_JOINED:
        raw[column], merged = _rejoin_comma_list(raw[column])
        suffixes_merged += merged
    frame, report = to_canonical(raw, f"wikidata:{path.name}", jan1_is_placeholder=True, today=today)
    report.entries.insert(0, ("lists", "stray name suffixes (Jr., Sr., Inc.) rejoined to their names", suffixes_merged))
    return frame, report


def _rejoin_comma_list(values: pd.Series) -> tuple[pd.Series, int]:
    merged = 0

    def rejoin(text):
        nonlocal merged
        items: list[str] = []
        for token in (t.strip() for t in text.split(",")):
            if token in NAME_SUFFIXES and items:
                items[-1] = f"{items[-1]}, {token}"
                merged += 1
            elif token:
                items.append(token)
        return schema.LIST_SEPARATOR.join(items)

    return values.map(rejoin, na_action="ignore"), merged
