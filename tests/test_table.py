import datetime as dt

import pandas as pd
import pytest

from pel_torch.data import load_films, write_table

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_canonical_table_round_trips_unchanged(films, tmp_path, suffix):
    path = write_table(films, tmp_path / f"films{suffix}")
    again, report = load_films("csv", path)
    pd.testing.assert_frame_equal(again, films)
    assert report.entries == []


def test_mapping_and_list_separator(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "Film,Released,Gross,Stars,Kind\n"
        " Heat ,12/15/1995,187436818,\"Al Pacino;Robert De Niro\",Crime;Drama\n"
        "Casino,1995-11-22,,Robert De Niro,\n"
        "Later,not a date,5000,,\n"
    )
    films, report = load_films("csv", path, columns={"title": "Film", "release_date": "Released", "revenue": "Gross", "cast": "Stars", "genres": "Kind"}, list_separator=";", today=TODAY)
    heat = films.iloc[0]
    assert heat["title"] == "Heat" and heat["cast"] == "Al Pacino|Robert De Niro" and heat["genres"] == "Crime|Drama"
    assert heat["release_date"] == pd.Timestamp("1995-12-15") and heat["year"] == 1995
    assert films.iloc[2]["release_date"] is pd.NaT and report.count("release_date", "unparseable") == 1
    assert list(films["id"]) == ["row-0", "row-1", "row-2"]


def test_write_refuses_to_overwrite_and_leaves_no_partial_file(films, tmp_path):
    path = write_table(films.head(3), tmp_path / "out.csv")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        write_table(films, path)
    assert path.read_bytes() == before
    write_table(films.head(5), path, overwrite=True)
    assert len(pd.read_csv(path)) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_written_files_get_the_usual_permissions(films, tmp_path):
    import os
    import stat

    path = write_table(films.head(3), tmp_path / "films.csv")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
