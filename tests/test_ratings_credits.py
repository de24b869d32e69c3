"""Directors, writers and cast joined from a film table: the join, causal statistics, and its errors."""

import numpy as np
import pandas as pd
import pytest

from pel_torch.data.ratings import RatingsData
from pel_torch.errors import DataError
from pel_torch.tasks.ratings import task as ratings_task
from pel_torch.tasks.ratings.credits import join_credits, title_key
from pel_torch.tasks.ratings.inputs import RatingInputs

FILM_TABLE = {"source": "wikidata", "paths": [], "options": {}}


def test_title_keys_put_articles_first_and_drop_alternative_titles():
    assert title_key("Postino, Il (The Postman)") == "il postino"
    assert title_key("Wallace & Gromit: The Best of Aardman Animation") == "wallace and gromit the best of aardman animation"
    assert title_key("Professional, The") == title_key("The Professional") == "the professional"


def test_films_join_by_title_and_year_then_within_a_year_and_never_ambiguously():
    films = pd.DataFrame({"title": ["Toy Story", "Il Postino", "Twin", "Twin", "Heat", "Heat"],
                          "year": [1995, 1995, 2000, 2000, 1994, 1996],
                          "director": ["John Lasseter", "Michael Radford", "A", "B", "C", "D"],
                          "writers": [None] * 6, "cast": ["Tom Hanks|Tim Allen", None, None, None, None, None]})
    items = pd.DataFrame({"item": ["1", "2", "3", "4", "5", "6"],
                          "title": ["Toy Story", "Postino, Il", "Twin", "Heat", "Nothing", "Toy Story"],
                          "year": ["1995", "1994", "2000", "1995", "1990", None]})
    credits, counts = join_credits(items, films)
    assert credits == {"1": {"director": ["John Lasseter"], "writers": [], "cast": ["Tom Hanks", "Tim Allen"]},
                       "2": {"director": ["Michael Radford"], "writers": [], "cast": []}}
    # Twin: two films in 2000; Heat 1995: one a year before and one after; Nothing, and a film without a year.
    assert counts == {"joined": 1, "joined_within_a_year": 1, "ambiguous": 2, "unmatched": 2}


def _data():
    """Director D made films A, B and C; C is rated only after the training ratings end (a cold film).
    Actor X is credited on A and B, actor Y on A alone; film E has no credits."""
    ratings = pd.DataFrame({"user": ["u1", "u1", "u2", "u3", "u1", "u2", "u3"], "item": ["E", "A", "A", "B", "B", "C", "A"],
                            "rating": [1.0, 5.0, 4.0, 2.0, 3.0, 4.0, 1.0], "timestamp": [5, 10, 20, 30, 40, 50, 60]})
    ratings["line"] = np.arange(len(ratings))
    credits = {"A": {"director": ["D"], "writers": [], "cast": ["X", "Y"]},
               "B": {"director": ["D"], "writers": [], "cast": ["X"]},
               "C": {"director": ["D"], "writers": [], "cast": []}}
    return RatingsData(ratings, None, None), credits


def test_credit_statistics_read_only_earlier_training_ratings_and_reach_films_nobody_rated():
    data, credits = _data()
    train = np.arange(5)
    inputs = RatingInputs(history_length=2, smoothing=5.0, film_table=FILM_TABLE).fit(data, train, credits=credits)
    raw, names = inputs.transform(data.ratings), inputs.feature_names_
    directed = data.ratings["rating"].to_numpy()[1:5] - inputs.mean_rating_      # D's training ratings, centred on 3.0

    def column(name):
        return raw[:, names.index(name)]

    # The director's pooled training ratings strictly before each rating; the held-out ones never count.
    before = [0, 0, 1, 2, 3, 4, 4]
    np.testing.assert_allclose(column("director_prior_ratings"), np.log1p(before))
    np.testing.assert_allclose(column("director_mean_rating"), [directed[:k].sum() / (k + 5.0) for k in before])
    assert column("director_mean_rating")[5] == pytest.approx(2.0 / 9.0)   # film C, never rated: its director speaks for it
    # Y is credited on one film only and is dropped; X's ratings are A's and B's.
    np.testing.assert_allclose(column("cast_prior_ratings"), np.log1p([0, 0, 1, 2, 3, 0, 4]))
    arrays, spec = inputs.state()
    restored = RatingInputs.from_state(arrays, spec)
    np.testing.assert_array_equal(restored.transform(data.ratings), raw)
    assert restored.settings()["film_table"] == FILM_TABLE


def test_a_film_table_that_joins_nothing_is_one_line_and_no_titles_is_said(monkeypatch, caplog):
    films = pd.DataFrame({"title": ["Elsewhere"], "year": [2001], "director": ["D"], "writers": [None], "cast": [None]})
    monkeypatch.setattr(ratings_task, "load_films", lambda source, *paths, **options: (films, None))
    ratings, _ = _data()
    items = pd.DataFrame({"item": ["A", "B", "C"], "title": ["Alpha", "Beta", "Gamma"], "year": ["1990", "1991", "1992"]})
    with pytest.raises(DataError, match=r"features.film_table=wikidata: none of the 3 rated films joins it by title and year; "
                                        r"check .* or set features.film_table=null") as caught:
        ratings_task.film_credits(RatingsData(ratings.ratings, None, items), FILM_TABLE)
    assert "\n" not in str(caught.value)
    assert ratings_task.film_credits(ratings, FILM_TABLE) is None
    assert "come without film titles and years to join on" in caplog.text
    assert ratings_task.film_credits(ratings, None) is None


def test_a_users_own_film_table_joins_under_its_own_column_names_and_a_missing_one_is_one_line(tmp_path):
    path = tmp_path / "films.csv"
    path.write_text("name,released,director\nAlpha,1990,D\nBeta,1991,D\n")
    ratings, _ = _data()
    items = pd.DataFrame({"item": ["A", "B", "C"], "title": ["Alpha", "Beta", "Gamma"], "year": ["1990", "1991", "1992"]})
    data = RatingsData(ratings.ratings, None, items)
    mapped = {"source": "csv", "paths": [str(path)], "options": {"columns": {"title": "name", "year": "released"}}}
    assert ratings_task.film_credits(data, mapped) == {"A": {"director": ["D"], "writers": [], "cast": []},
                                                      "B": {"director": ["D"], "writers": [], "cast": []}}
    with pytest.raises(DataError, match=r"films.csv: no 'title' column \(found: name, released, director\)") as caught:
        ratings_task.film_credits(data, {**mapped, "options": {}})
    assert "\n" not in str(caught.value)
