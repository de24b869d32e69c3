import datetime as dt

import pytest

from conftest import FIXTURES
from pel_torch.data import load_films

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def movies_dataset():
    return load_films("movies_dataset", FIXTURES / "movies_dataset", today=TODAY)


def test_movies_dataset_parses_python_literal_lists(movies_dataset):
    films = movies_dataset[0].set_index("id")
    toy = films.loc["862"]
    assert toy["genres"] == "Animation|Comedy|Family"
    assert toy["companies"] == "Pixar Animation Studios"
    assert toy["countries"] == "United States of America"
    assert toy["keywords"] == "jealousy|toy"
    assert (toy["revenue"], toy["budget"], toy["rating"], toy["votes"]) == (373554033, 30000000, 7.7, 5415)


def test_movies_dataset_cast_in_billing_order_and_crew_roles(movies_dataset):
    films = movies_dataset[0].set_index("id")
    assert films.loc["862", "cast"] == "Tom Hanks|Tim Allen|Don Rickles"
    assert films.loc["862", "director"] == "John Lasseter"
    assert films.loc["862", "writers"] == "Joss Whedon"  # the producer is not a writer
    assert films.loc["8844", "cast"] == "Robin Williams|Kirsten O'Dunst"
    assert films.loc["8844", "companies"] == "TriStar Pictures|Teitler Film"


def test_movies_dataset_quirks_are_fixed_and_counted(movies_dataset):
    films, report = movies_dataset
    ids = set(films["id"])
    assert "1997-08-20" not in ids and report.count("row", "malformed") == 1
    assert len(films) == 5 and report.count("row", "identical") == 1
    exhale = films.set_index("id").loc["31357"]
    assert exhale[["budget", "revenue", "rating"]].isna().all()  # zeros are unknown; 0 votes means no rating
    assert films.set_index("id").loc["8844", "title"] == "Jumanji"
    assert report.count("budget", "values below") == 1  # a budget of $7 is a unit error
    assert report.count("cast", "malformed") == 1


def test_future_film_without_target_is_kept(movies_dataset):
    films, report = movies_dataset
    sequel = films.set_index("id").loc["999001"]
    assert sequel["release_date"].year == 2031
    assert report.count("release_date", "future releases kept") == 1


def test_movies_dataset_keywords_file_is_optional():
    folder = FIXTURES / "movies_dataset"
    films, _ = load_films("movies_dataset", folder / "movies_metadata.csv", folder / "credits.csv", today=TODAY)
    assert films["keywords"].isna().all() and len(films) == 5


def test_tmdb5000_parses_json_lists():
    films, report = load_films("tmdb5000", FIXTURES / "tmdb5000", today=TODAY)
    avatar = films.set_index("id").loc["19995"]
    assert avatar["cast"] == "Sam Worthington|Zoe Saldana"
    assert avatar["director"] == "James Cameron" and avatar["writers"] == "James Cameron"
    assert avatar["countries"] == "United States of America|United Kingdom"
    assert avatar["keywords"] == "culture clash"
    assert films.set_index("id").loc["285", "title"] == "Pirates of the Caribbean: At World's End"
    assert report.count("runtime") == 1
