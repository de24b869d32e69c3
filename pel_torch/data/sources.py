"""The registry of film-table sources and the one function that loads any of them."""

from pathlib import Path

import pandas as pd

from pel_torch.data.kaggle import load_movies_dataset, load_tmdb5000
from pel_torch.data.report import CleaningReport
from pel_torch.data.table import load_table
from pel_torch.data.wikidata import load_wikidata
from pel_torch.errors import DataError


def _load_csv(*paths, **options):
    if len(paths) != 1:
        raise DataError(f"csv: expected exactly one CSV or Parquet path, got {len(paths)}")
    return load_table(paths[0], **options)


def _load_wikidata(*paths, **options):
    if len(paths) > 1:
        raise DataError(f"wikidata: expected at most one path to movies.db, got {len(paths)}")
    return load_wikidata(paths[0] if paths else None, **options)


SOURCES = {
    "wikidata": _load_wikidata,
    "movies_dataset": load_movies_dataset,
    "tmdb5000": load_tmdb5000,
    "csv": _load_csv,
}


def load_films(source: str, *paths: str | Path, **options) -> tuple[pd.DataFrame, CleaningReport]:
    """Load ``source`` (a key of ``SOURCES``) into the canonical table, with the cleaning report.

    ``options`` go to the source's loader (``columns=`` for csv, ``today=`` for all).
    """
    if source not in SOURCES:
        raise DataError(f"unknown data source '{source}'; choose one of: {', '.join(SOURCES)}")
    try:
        return SOURCES[source](*paths, **options)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise DataError(f"{source}: {err}; remove that option") from None
        raise
