"""Every bad input gets one clear line naming the file, column or value and what to do."""

import pytest

from conftest import FIXTURES
from pel_torch.data import load_films
from pel_torch.data.__main__ import main
from pel_torch.errors import DataError

CASES = [
    # (file name, file text or None for absent, loader options, expected message)
    ("absent.csv", None, {}, r"absent\.csv: file not found"),
    ("empty.csv", "", {}, r"empty\.csv: file is empty"),
    ("untitled.csv", "name,revenue\nHeat,100000\n", {}, r"untitled\.csv: no 'title' column .*columns=\{title: YOUR_COLUMN\}"),
    ("mapped.csv", "Film,revenue\nHeat,100000\n", {"columns": {"title": "Name"}}, r"mapped\.csv: columns mapping sends 'title' to 'Name', which is not a column"),
    ("unknown_key.csv", "title\nHeat\n", {"columns": {"gross": "title"}}, r"unknown canonical column\(s\) gross"),
    ("dollars.csv", "title,revenue\nHeat,$187M\n", {}, r"dollars\.csv: column 'revenue' has non-numeric value '\$187M' \(row 0\)"),
    ("words.csv", "title,budget\nHeat,60000000\nCasino,lots\n", {}, r"words\.csv: column 'budget' has non-numeric value 'lots' \(row 1\)"),
    ("negative.csv", "title,budget\nHeat,-5\n", {}, r"negative\.csv: column 'budget' has negative value -5 .*cannot be negative"),
    ("movies.txt", "title\nHeat\n", {}, r"movies\.txt: unsupported file type '\.txt'"),
]


@pytest.mark.parametrize("name, text, options, message", CASES, ids=[c[0] for c in CASES])
def test_bad_csv_is_one_clear_line(tmp_path, name, text, options, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError, match=message) as caught:
        load_films("csv", path, **options)
    assert "\n" not in str(caught.value)


WRONG_KIND = [
    ("movies_dataset", [FIXTURES / "movies_dataset" / "credits.csv", FIXTURES / "movies_dataset" / "credits.csv"], r"movies_metadata\.csv \(not credits\.csv"),
    ("movies_dataset", [FIXTURES / "movies_dataset" / "movies_metadata.csv", FIXTURES / "movies_dataset" / "keywords.csv"], r"expected Kaggle 'The Movies Dataset' credits\.csv"),
    ("tmdb5000", [FIXTURES / "movies_dataset" / "movies_metadata.csv", FIXTURES / "tmdb5000" / "tmdb_5000_credits.csv"], r"missing column\(s\) keywords; expected Kaggle 'TMDB 5000' tmdb_5000_movies\.csv"),
    ("tmdb5000", [FIXTURES / "tmdb5000" / "tmdb_5000_movies.csv", FIXTURES / "movies_dataset" / "credits.csv"], r"missing column\(s\) movie_id"),
    ("tmdb5000", [FIXTURES / "tmdb5000" / "tmdb_5000_movies.csv"], r"tmdb5000: expected the files"),
    ("nosuch", [], r"unknown data source 'nosuch'"),
]


@pytest.mark.parametrize("source, paths, message", WRONG_KIND)
def test_wrong_kaggle_file_is_named(source, paths, message):
    with pytest.raises(DataError, match=message):
        load_films(source, *paths)


def test_wikidata_wrong_file(tmp_path):
    bogus = tmp_path / "movies.db"
    bogus.write_text("not sqlite")
    with pytest.raises(DataError, match=r"movies\.db: not the bokeh-sampledata movies\.db"):
        load_films("wikidata", bogus)


@pytest.mark.parametrize("args, message", [
    (["csv", "missing.csv"], "missing.csv: file not found"),
    (["csv", "x.csv", "--map", "title"], "expected CANONICAL=COLUMN"),
    (["tmdb5000", str(FIXTURES / "movies_dataset")], "tmdb_5000_movies.csv: file not found"),
])
def test_cli_prints_one_error_line_and_exits_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("error: ") and message in err[0]
