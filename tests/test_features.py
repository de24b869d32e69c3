import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from pel_torch.tasks.box_office.featurizer import FilmFeaturizer
from pel_torch.tasks.box_office.splits import make_split
from pel_torch.errors import PelError


def film(title, year, date=None, director=None, cast=None, revenue=None, rating=None):
    return {"id": title, "title": title, "release_date": pd.Timestamp(date) if date else pd.NaT, "year": year,
            "director": director, "cast": cast, "writers": None, "genres": "Drama", "companies": None,
            "countries": None, "language": None, "keywords": None, "mpaa": None, "runtime": 100.0, "budget": np.nan,
            "rating": rating, "votes": np.nan, "revenue": revenue}


def frame(*rows):
    out = pd.DataFrame(rows)
    out["year"] = pd.array(out["year"], dtype="Int64")
    return out.astype({"rating": float, "revenue": float, "votes": float})


def column(featurizer, films, name):
    return featurizer.transform(films)[:, featurizer.feature_names_.index(name)]


def raw_column(featurizer, films, name):
    j = featurizer.feature_names_.index(name)
    return column(featurizer, films, name) * featurizer.std_[j] + featurizer.mean_[j]


HISTORY = frame(
    film("a", 2000, "2000-03-01", director="Ann", revenue=1e6),
    film("b", 2001, "2001-03-01", director="Ann", revenue=1e8),
    film("c", 2002, "2002-03-01", director="Ann", revenue=1e7),
    film("d", 2002, None, director="Ann", revenue=1e9),  # year only: could be any day of 2002
    film("e", 2003, "2003-03-01", director="Bob", revenue=1e5),
)


def test_experience_counts_never_count_later_films():
    featurizer = FilmFeaturizer(lead_cast=None).fit(HISTORY)
    experience = np.expm1(raw_column(featurizer, HISTORY, "director_prior_films_max"))
    # c (March 2002) may not count d, whose day in 2002 is unknown; d may not count c either.
    np.testing.assert_allclose(experience, [0, 1, 2, 2, 0], atol=1e-5)  # float32 output


def test_a_films_own_target_never_enters_its_encoding():
    featurizer = FilmFeaturizer(lead_cast=None).fit(HISTORY)
    before = featurizer.transform(HISTORY)
    changed = HISTORY.copy()
    changed.loc[changed["title"] == "b", "revenue"] = 5e9
    after = FilmFeaturizer(lead_cast=None).fit(changed)
    # b's own revenue moves later films' encodings, but not b's own row or earlier ones.
    j = featurizer.feature_names_.index("director_revenue_mean")
    raw_before = before[:, j] * featurizer.std_[j] + featurizer.mean_[j]
    raw_after = after.transform(changed)[:, j] * after.std_[j] + after.mean_[j]
    assert raw_after[0] == pytest.approx(raw_before[0] - featurizer.entities_.priors_[0] + after.entities_.priors_[0])
    assert raw_after[1] == pytest.approx(after.entities_.priors_[0] * 10 / 11 + np.log1p(1e6) / 11)
    assert raw_after[2] > raw_before[2]


def test_validation_films_are_encoded_without_their_own_targets(films):
    split = make_split(films, "random", seed=3)
    featurizer = FilmFeaturizer(lead_cast=None).fit(films.iloc[split.history])
    held_out = films.iloc[split.val].copy()
    before = featurizer.transform(held_out)
    held_out["revenue"] = held_out["revenue"] * 1000
    held_out["rating"] = 0.0
    np.testing.assert_array_equal(featurizer.transform(held_out), before)


def test_no_nan_and_state_round_trip_through_safetensors(films, tmp_path):
    split = make_split(films, "temporal")
    featurizer = FilmFeaturizer(lead_cast=None, temporal_differences=True).fit(films.iloc[split.history])
    matrix = featurizer.transform(films)
    assert matrix.dtype == np.float32 and matrix.shape == (len(films), len(featurizer.feature_names_))
    assert np.isfinite(matrix).all()
    arrays, spec = featurizer.state()
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, tmp_path / "featurizer.safetensors")
    import json
    spec = json.loads(json.dumps(spec))
    again = FilmFeaturizer.from_state(load_file(tmp_path / "featurizer.safetensors"), spec)
    np.testing.assert_array_equal(again.transform(films), matrix)


def test_temporal_differences_do_not_depend_on_the_batch(films):
    featurizer = FilmFeaturizer(lead_cast=None, temporal_differences=True).fit(films.iloc[:5000])
    whole = featurizer.transform(films.iloc[5000:5100])
    one_by_one = np.vstack([featurizer.transform(films.iloc[[i]]) for i in range(5000, 5100)])
    np.testing.assert_array_equal(whole, one_by_one)
    assert any(name.startswith("diff_director") for name in featurizer.feature_names_)


def test_billing_order_lead_cast_limits_the_entities():
    films = frame(film("x", 2000, "2000-01-05", cast="Star|Extra", revenue=1e8), film("y", 2001, "2001-01-05", cast="Extra", revenue=1e6))
    lead = FilmFeaturizer(lead_cast=1).fit(films)
    everyone = FilmFeaturizer(lead_cast=None).fit(films)
    assert raw_column(lead, films, "cast_known_share")[1] == 0.0
    assert raw_column(everyone, films, "cast_known_share")[1] == 1.0


def test_featurizer_rejects_non_canonical_frames():
    with pytest.raises(PelError, match="lacks canonical column"):
        FilmFeaturizer().fit(pd.DataFrame({"title": ["a"]}))


def test_votes_standardised_among_films_of_the_same_years():
    from pel_torch.tasks.box_office.targets import standardise_by_year

    rng = np.random.default_rng(0)
    years = np.repeat(np.arange(1980, 2011), 60).astype(float)
    drift = (years - 1980) * 0.2                       # review counts grow with the years
    values = drift + rng.normal(size=len(years))
    standardised = standardise_by_year(values, years)
    assert abs(np.corrcoef(standardised, years)[0, 1]) < 0.05 < np.corrcoef(values, years)[0, 1]
    assert abs(standardised.mean()) < 0.05 and abs(standardised.std() - 1) < 0.1
    # unknown years and years with too few contemporaries fall back to all films; NaN stays NaN
    few = standardise_by_year(np.array([1.0, 2.0, 3.0, np.nan]), np.array([1990.0, np.nan, 2000.0, 1990.0]), min_films=30)
    all_films = (np.array([1.0, 2.0, 3.0]) - 2.0) / np.std([1.0, 2.0, 3.0])
    np.testing.assert_allclose(few[:3], all_films)
    assert np.isnan(few[3])


def test_temporal_differences_look_back_to_catalog_films_without_reading_their_targets():
    history = frame(film("a", 2000, "2000-01-01", director="Ann", revenue=1e6), film("b", 2002, "2002-01-01", director="Bob", revenue=1e7))
    held_out = film("c", 2003, "2003-06-01", director="Ann", revenue=5e8)  # e.g. a test film: public once released
    query = frame(film("q", 2004, "2004-01-01", director="Bob"))
    catalog = frame(*history.to_dict("records"), held_out)
    by_catalog = FilmFeaturizer(lead_cast=None, temporal_differences=True).fit(history, catalog=catalog)
    by_history = FilmFeaturizer(lead_cast=None, temporal_differences=True).fit(history)
    n = len(by_catalog.feature_names_) // 2
    raw_catalog, raw_history = by_catalog.transform_raw(query), by_history.transform_raw(query)
    np.testing.assert_array_equal(raw_catalog[:, :n], raw_history[:, :n])
    # The previous film is c (2003), not b (2002): the difference is taken from c's attributes ...
    c_base = by_catalog.transform_raw(frame(held_out))[:, :n]
    np.testing.assert_array_equal(raw_catalog[:, n:], raw_catalog[:, :n] - c_base)
    assert not np.array_equal(raw_catalog[:, n:], raw_history[:, n:])
    # ... and never from its box office.
    catalog.loc[2, "revenue"] = 1.0
    again = FilmFeaturizer(lead_cast=None, temporal_differences=True).fit(history, catalog=catalog)
    np.testing.assert_array_equal(again.transform_raw(query), raw_catalog)
