import numpy as np
import pandas as pd

from pel_torch.data import schema, summarize


def test_counts_are_read_from_the_data(wikidata):
    summary = summarize(wikidata[0])
    assert summary["films"] >= 17_000
    assert summary["with_rating"] >= 17_000
    assert summary["with_revenue"] >= 2_700


def test_table_is_canonical_and_holds_no_post_release_columns(films):
    assert tuple(films.columns) == schema.CANONICAL_COLUMNS
    assert not {"meter", "fresh", "rotten", "metacritic", "awards", "oscars"} & {c.lower() for c in films.columns}
    assert films["id"].is_unique


def test_join_is_on_id_so_recuts_sharing_an_imdb_id_stay_apart(films):
    titles = set(films["title"])
    assert {"Apocalypse Now", "Apocalypse Now Redux"} <= titles


def test_mpaa_comes_from_omdb_rating_and_legacy_labels_are_mapped(films):
    assert set(films["mpaa"].dropna()) <= set(schema.MPAA_LABELS)
    assert films["rating"].dropna().between(0, 10).all()


def test_unit_error_revenues_are_missing_and_reported(wikidata):
    films, report = wikidata
    assert films["revenue"].min() >= 1000
    assert report.count("revenue", "values below") == 6


def test_placeholder_dates_keep_only_their_year(wikidata):
    films, report = wikidata
    dates = films["release_date"].dropna()
    assert not ((dates.dt.month == 1) & (dates.dt.day == 1)).any()
    assert films["year"].notna().all()
    assert report.count("release_date", "YYYY-01-01") > 11_000


def test_comma_split_suffixes_are_rejoined(films):
    cast = films["cast"].dropna().str.split(schema.LIST_SEPARATOR).explode()
    assert not cast.isin(["Jr.", "Sr."]).any()
    assert (cast == "Ed Begley, Jr.").any()


def test_empty_strings_are_missing_and_runtime_is_plausible(films):
    for column in schema.TEXT_COLUMNS:
        assert not (films[column] == "").any(), column
    assert films["runtime"].dropna().between(1, 600).all()
    assert isinstance(films["release_date"].dtype, np.dtype) and films["release_date"].dtype.kind == "M"
    assert pd.api.types.is_integer_dtype(films["year"])
