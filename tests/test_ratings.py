"""The ratings task: MovieLens loaders, splits, causal inputs, and the stages end to end with tiny learners.

MovieLens may not be redistributed: the small files these tests read are cut from the embedded
ML-100K (the recbole wheel's files) into a temporary folder at test time.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import config
from pel_torch.checkpoint import CheckpointError, load_checkpoint
from pel_torch.data.movielens import load_interactions, load_movielens
from pel_torch.errors import DataError, PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.features.targets import TargetScale
from pel_torch.predict import predict_file
from pel_torch.stages import finetune, pretrain, scratch
from pel_torch.tasks.box_office import BoxOfficeTask
from pel_torch.tasks.ratings import RatingsTask
from pel_torch.tasks.ratings.inputs import RatingInputs
from pel_torch.tasks.ratings.splits import make_split

TINY_RATINGS = ["task=ratings", "data=interactions", "stack.n_folds=2", "stack.layers=[[mf,lstm,autorec,bpmf,lightgbm],[linear]]",
                "++stack.learners.mf.max_epochs=2", "++stack.learners.lstm.max_epochs=1", "++stack.learners.lstm.hidden=8",
                "++stack.learners.autorec.max_epochs=2", "++stack.learners.autorec.hidden=8", "++stack.learners.bpmf.sweeps=3",
                "++stack.learners.bpmf.burn_in=1", "++stack.learners.bpmf.dim=4", "++stack.learners.bpmf.rank=8",
                "++stack.learners.lightgbm.n_estimators=20", "features.history_length=5", "finetune.max_epochs=1"]


@pytest.fixture(scope="module")
def movielens():
    return load_movielens()


@pytest.fixture(scope="module")
def small_file(movielens, tmp_path_factory):
    """6,000 ratings of the embedded ML-100K in the generic interactions format, under other column names."""
    path = tmp_path_factory.mktemp("ratings") / "ratings.csv"
    movielens.ratings.head(6000).rename(columns={"user": "customer", "item": "film", "rating": "stars", "timestamp": "ts"}) \
        .drop(columns="line").to_csv(path, index=False)
    return path


def _config(tmp, path, *overrides, name="train"):
    mapping = "data.options.columns={user: customer, item: film, rating: stars, timestamp: ts}"
    return config(tmp, *TINY_RATINGS, f"data.paths=[{path}]", mapping, *overrides, name=name)


def test_embedded_movielens_is_ml100k_in_file_order(movielens):
    ratings = movielens.ratings
    assert (len(ratings), ratings["user"].nunique(), ratings["item"].nunique()) == (100_000, 943, 1_682)
    assert ratings["line"].tolist() == list(range(100_000)) and ratings.loc[0, ["user", "item"]].tolist() == ["196", "242"]
    assert movielens.items.loc[0, "genres"] == "Animation|Children's|Comedy" and movielens.users.loc[0, "occupation"] == "technician"


def test_u_folds_are_groupLens_file_blocks_and_validation_comes_from_the_base(movielens):
    for k in range(5):
        split = make_split(movielens.ratings, f"u{k + 1}", seed=0)
        np.testing.assert_array_equal(split.test, np.arange(20_000 * k, 20_000 * (k + 1)))
        assert len(split.val) == 8_000 and not np.isin(split.val, split.test).any()


def test_user_temporal_tests_each_users_latest_ratings(movielens):
    ratings = movielens.ratings
    split = make_split(ratings, "user_temporal")
    part = pd.Series(0, index=ratings.index)
    part[split.val], part[split.test] = 1, 2
    for _, rows in ratings.assign(part=part).groupby("user"):
        rows = rows.sort_values(["timestamp", "line"])
        assert rows["part"].is_monotonic_increasing                     # train, then validation, then test, in time
        assert abs((rows["part"] == 2).mean() - 0.2) < 0.05


def test_a_refit_knows_the_validation_ratings_and_never_the_test_ones(movielens):
    ratings = movielens.ratings
    plain = make_split(ratings, "user_temporal")
    assert not len(plain.refit) and plain.known is plain.train
    for refit in ("bagged", "once"):
        split = make_split(ratings, "user_temporal", refit=refit)
        np.testing.assert_array_equal(split.known, np.sort(np.concatenate([plain.train, plain.val])))
        np.testing.assert_array_equal(split.val, plain.val)
        assert split.refit_once == (refit == "once") and not np.isin(split.known, split.test).any()


def test_inputs_read_only_the_users_training_ratings_strictly_before(movielens):
    ratings = movielens.ratings.head(3000)
    split = make_split(ratings, "user_temporal")
    data = movielens.__class__(ratings, movielens.users, movielens.items)
    inputs = RatingInputs(history_length=4, smoothing=5.0).fit(data, split.train)
    raw = inputs.transform(ratings)
    names = inputs.feature_names_
    train = ratings.iloc[split.train].sort_values(["timestamp", "line"])
    for row in np.random.default_rng(0).choice(len(ratings), 60, replace=False):
        rating = ratings.iloc[row]
        earlier = train[(train["user"] == rating["user"]) & ((train["timestamp"] < rating["timestamp"])
                        | ((train["timestamp"] == rating["timestamp"]) & (train["line"] < rating["line"])))]
        expected = [inputs.items_[m] for m in earlier["item"].tail(4)]
        history = raw[row, [names.index(f"history_item_{k}") for k in range(4)]]
        np.testing.assert_array_equal(history, [0] * (4 - len(expected)) + expected)   # oldest first, padded in front
        assert raw[row, names.index("user_prior_ratings")] == pytest.approx(np.log1p(len(earlier)))
        centred = earlier["rating"].to_numpy() - inputs.mean_rating_
        assert raw[row, names.index("user_mean_rating")] == pytest.approx(centred.sum() / (len(earlier) + 5.0))
    day = raw[:, inputs.groups_["day"][0]]
    np.testing.assert_array_equal(day, ratings["timestamp"].to_numpy() // 86400)        # whole UTC days since 1970
    undated = inputs.transform(pd.DataFrame({"user": ratings["user"].head(2), "item": ratings["item"].head(2)}))
    np.testing.assert_array_equal(undated[:, inputs.groups_["day"][0]], -1)
    assert names[-1] == "day" and sorted(np.concatenate(list(inputs.groups_.values()))) == list(range(len(names)))
    arrays, spec = inputs.state()
    np.testing.assert_array_equal(RatingInputs.from_state(arrays, spec).transform(ratings), raw)


@pytest.mark.parametrize("text, message", [
    ("customer,film\n1,2\n", r"missing column\(s\) user, item, rating \(found: customer, film\); map yours"),
    ("user,item,rating\n1,2,7\n", r"rating 7 in row 0 is outside the declared scale \[1, 5\] .*data.options.scale"),
    ("user,item,rating\n1,2,good\n", r"column 'rating' has non-numeric value 'good' \(row 0\)"),
    ("user,item,rating,timestamp\n1,2,4,yesterday\n", r"column 'timestamp' has 'yesterday' in row 0, neither Unix seconds nor a date"),
    ("", "file is empty"),
    ("user,item,rating\n,2,4\n", r"column 'user' is empty in row 0"),
])
def test_bad_ratings_files_are_one_line(tmp_path, text, message):
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as caught:
        load_interactions(path)
    assert "\n" not in str(caught.value)


def test_a_pair_rated_twice_keeps_its_latest_rating_and_is_counted(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating,timestamp\n1,2,4,100\n1,2,1,300\n1,3,5,200\n1,2,2,200\n")
    data = load_interactions(path)
    assert data.ratings[["item", "rating"]].values.tolist() == [["2", 1.0], ["3", 5.0]]
    assert "pairs rated more than once: kept the latest rating: 2" in str(data.report)


def test_scratch_evaluate_and_predict_with_unknown_users_and_films(small_file, tmp_path):
    task = RatingsTask()
    result = scratch(_config(tmp_path, small_file, "stage=scratch", "split=global_temporal"))
    checkpoint = load_checkpoint(result.checkpoint, task)
    assert checkpoint.spec["task"] == "ratings" and checkpoint.model.member("scratch").stack.layers[0].names == ["mf", "lstm", "autorec", "bpmf", "lightgbm"]
    # Film vectors of MF and the LSTM in TensorBoard's projector, one labelled row per film the training ratings showed.
    projector = "".join(p.read_text() for p in tmp_path.rglob("projector_config.pbtxt"))
    assert all(f"scratch/scratch/layer 1 {name}/item" in projector for name in ("mf", "lstm", "autorec", "bpmf"))
    metadata = next(tmp_path.rglob("metadata.tsv")).read_text().splitlines()
    assert metadata[0] == "film\ttraining ratings" and len(metadata) == 1 + len(checkpoint.inputs.items_)
    metrics = evaluate_checkpoint(_config(tmp_path, small_file, "split=global_temporal", name="evaluate"), task, checkpoint)
    assert 0.7 < metrics["test/rmse"] < 1.5 and metrics["test/ratings"] == 1200
    assert metrics["test/warm_users/ratings"] + metrics["test/cold_users/ratings"] == 1200 and metrics["test/cold_users/ratings"] > 0
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"user": ["196", "196", "nobody", "", "22"], "item": ["242", "no-film", "242", "242", "377"],
                  "timestamp": ["", "", "", "", "1998-01-01"]}).to_csv(pairs, index=False)
    summary = predict_file(checkpoint, task, pairs, tmp_path / "predicted.csv")
    out = pd.read_csv(tmp_path / "predicted.csv", keep_default_na=False)
    assert summary.rows == 5 and summary.scored == 4
    assert out["reason"].tolist() == ["", "unknown film: predicted from the user alone", "unknown user: predicted from the film alone",
                                      "no user", ""]
    predicted = pd.to_numeric(out["predicted_rating"], errors="coerce")
    assert predicted.notna().tolist() == [True, True, True, False, True] and predicted.dropna().between(0.5, 5.5).all()
    with pytest.raises(CheckpointError, match="a checkpoint of task 'ratings', not 'box_office'"):
        load_checkpoint(result.checkpoint, BoxOfficeTask())


def test_scratch_refitted_on_the_validation_ratings_is_scored_there_as_it_was_chosen(small_file, tmp_path):
    task = RatingsTask()
    cfg = _config(tmp_path, small_file, "stage=scratch", "split=global_temporal", "split.refit=bagged")
    prepared = task.prepare(cfg)
    val_only = set(prepared.table["user"].iloc[prepared.split.val]) - set(prepared.table["user"].iloc[prepared.split.train])
    assert val_only and val_only <= set(prepared.inputs.users_)   # the validation ratings' users are known to the refitted members
    result = scratch(cfg)
    checkpoint = load_checkpoint(result.checkpoint, task)
    # the validation score is the stack's before its members saw those ratings: the kept predictions, not its own
    kept = checkpoint.held_out["model"]
    own = checkpoint.model.member("scratch")(torch.from_numpy(prepared.raw[prepared.split.val])).detach().numpy()
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    kept_rmse = task.metrics(scale.encode(prepared.table["rating"].to_numpy(float)[prepared.split.val]), kept, scale)["rmse"]
    assert result.metrics["val/rmse"] == pytest.approx(kept_rmse) and not np.allclose(kept, own)
    metrics = evaluate_checkpoint(_config(tmp_path, small_file, "split=global_temporal", "split.refit=bagged", name="evaluate"), task, checkpoint)
    assert 0.7 < metrics["test/rmse"] < 1.5 and metrics["test/ratings"] == 1200
    with pytest.raises(DataError, match="split.refit=no: give bagged, once or false \\(how the members are refitted on the training"):
        task.prepare(_config(tmp_path, small_file, "stage=scratch", "split.refit=no"))


def test_pretrain_on_implicit_feedback_then_finetune(small_file, tmp_path):
    task = RatingsTask()
    pretrained = pretrain(_config(tmp_path, small_file, "stage=pretrain", "split=global_temporal"))
    assert 0.0 < pretrained.metrics["pretrain/rated/oof_r2"] < 1.0
    checkpoint = load_checkpoint(finetune(_config(tmp_path, small_file, "stage=finetune", "split=global_temporal")).checkpoint, task)
    assert checkpoint.model.names == ["rated (fine-tuned)", "scratch"]
    metrics = evaluate_checkpoint(_config(tmp_path, small_file, "split=global_temporal", name="evaluate"), task, checkpoint)
    assert 0.7 < metrics["test/rmse"] < 1.5


def test_ratings_refuses_a_film_table_source_and_the_folds_protocol(tmp_path):
    task = RatingsTask()
    with pytest.raises(DataError, match="data.source=wikidata holds films, not ratings"):
        task.prepare(config(tmp_path, "task=ratings", "data=wikidata"))
    with pytest.raises(PelError, match="split=folds is the report's protocol"):
        make_split(pd.DataFrame({"line": [0]}), "folds")


def test_grouplens_folders_in_their_three_formats(movielens, tmp_path):
    head = movielens.ratings.head(40)
    ml100k, ml1m, latest = (tmp_path / name for name in ("ml-100k", "ml-1m", "ml-latest"))
    for folder in (ml100k, ml1m, latest):
        folder.mkdir()
    head[["user", "item", "rating", "timestamp"]].astype({"rating": int, "timestamp": int}).to_csv(
        ml100k / "u.data", sep="\t", header=False, index=False)
    (ml100k / "u.item").write_text("242|Kolya (1996)|24-Jan-1997||http://x|" + "|".join(["0"] * 5 + ["1"] + ["0"] * 13) + "\n", encoding="latin-1")
    (ml100k / "u.user").write_text("196|49|M|writer|55105\n")
    (ml1m / "ratings.dat").write_text("".join(f"{r.user}::{r.item}::{int(r.rating)}::{int(r.timestamp)}\n" for r in head.itertuples()))
    (ml1m / "movies.dat").write_text("242::Kolya (1996)::Comedy\n")
    (ml1m / "users.dat").write_text("196::M::49::20::55105\n")
    head.rename(columns={"user": "userId", "item": "movieId"}).drop(columns="line").to_csv(latest / "ratings.csv", index=False)
    pd.DataFrame({"movieId": ["242"], "title": ["Kolya (1996)"], "genres": ["Comedy"]}).to_csv(latest / "movies.csv", index=False)
    for folder in (ml100k, ml1m, latest):
        data = load_movielens(folder)
        assert data.ratings[["user", "item", "rating"]].values.tolist() == head[["user", "item", "rating"]].values.tolist()
        assert data.items.loc[0, ["item", "title", "year", "genres"]].tolist() == ["242", "Kolya", "1996", "Comedy"]
    assert load_movielens(ml100k).users.loc[0, "occupation"] == "writer" and load_movielens(ml1m).users.loc[0, "age"] == "49"
    with pytest.raises(DataError, match="no u.data, ratings.dat or ratings.csv"):
        load_movielens(tmp_path)


def test_report_scores_the_stack_its_learners_and_pretraining_beside_published_numbers(small_file, tmp_path):
    from pel_torch.tasks.ratings.report import IMPLICIT, PRETRAINED, STACK

    reports = tmp_path / "reports"
    cfg = _config(tmp_path, small_file, "report=quick", "report_splits=[u1,user_temporal]", f"reports_dir={reports}", name="evaluate")
    json_path, md_path, *figures = RatingsTask().report(cfg)
    results = json.loads(json_path.read_text())
    assert set(results) == {"u1", "user_temporal", "cold_warm", "top_n", "meta"} and results["meta"]["splits_done"] == ["u1", "user_temporal"]
    assert set(results["u1"]) == {STACK, PRETRAINED, "layer 1 mf", "layer 1 lightgbm", "layer 2 linear", "global mean", "user + film biases"}
    assert results["u1"]["user + film biases"]["rmse"][0] < results["u1"]["global mean"]["rmse"][0]
    assert all(0.5 < row["rmse"][0] < 1.6 and row["mae"][0] <= row["rmse"][0] for row in results["u1"].values())
    # Cold -> warm: every test rating falls in one bin, and each model's bins pool back to its RMSE.
    bins = results["cold_warm"]["u1"]
    assert sum(bins["ratings"]) == 1200 and bins["ratings"][0] > 0   # u1 holds users no training rating showed yet
    pooled = np.sqrt(sum(n * r ** 2 for n, r in zip(bins["ratings"], bins["rmse"][STACK]) if n) / 1200)
    assert pooled == pytest.approx(results["u1"][STACK]["rmse"][0])
    assert [f.name for f in figures] == ["ratings_cold_warm_u1.png", "ratings_cold_warm_user_temporal.png"]
    # Top-N on user_temporal only, popularity beside the stacks, every share a share.
    assert set(results["top_n"]) == {"user_temporal"}
    assert set(results["top_n"]["user_temporal"]) == {STACK, PRETRAINED, IMPLICIT, "popularity"}
    assert all(0 <= m["precision@10"] <= 1 and 0 <= m["ndcg@10"] <= 1 and m["users"] > 10 for m in results["top_n"]["user_temporal"].values())
    table = md_path.read_text()
    assert "GLocal-K (picked its epoch on the test set) 0.889" in table and "their models and runs (not ours)" in table
    assert "stack.layers=[['mf', 'lightgbm'], ['linear']] stack.n_folds=2" in table
    assert "## Top-10 recommendations, user_temporal" in table and "| popularity (baseline) |" in table
    # Run again: every stage is read back from its checkpoint, none refitted, the numbers the same.
    written = sorted(p.name for p in tmp_path.rglob("*.safetensors"))
    RatingsTask().report(cfg)
    assert sorted(p.name for p in tmp_path.rglob("*.safetensors")) == written and len(written) == 6
    assert json.loads(json_path.read_text())["u1"] == results["u1"]


def test_report_refuses_an_unknown_protocol_and_two_spellings_that_disagree(tmp_path):
    with pytest.raises(PelError, match="report_splits: unknown u9; choose from u1, folds, user_temporal"):
        RatingsTask().report(config(tmp_path, "task=ratings", "report=quick", "report_splits=[u9]", name="evaluate"))
    with pytest.raises(PelError, match="recommend.output: task=box_office has no users to recommend to"):
        BoxOfficeTask().recommend(config(tmp_path, "recommend.output=x.csv", name="evaluate"), None)
    with pytest.raises(PelError, match="report=quick and table2=full disagree"):
        BoxOfficeTask().report(config(tmp_path, "report=quick", "table2=full", name="evaluate"))


def test_bias_baseline_recovers_planted_user_and_film_offsets():
    from pel_torch.tasks.ratings.baselines import global_mean, user_film_biases

    rng = np.random.default_rng(0)
    users, films = rng.integers(0, 50, 20000).astype(str), rng.integers(0, 40, 20000).astype(str)
    offset_user, offset_film = rng.normal(0, 0.5, 50), rng.normal(0, 0.5, 40)
    offset_user, offset_film = offset_user - offset_user.mean(), offset_film - offset_film.mean()  # so the mean is 3.5
    rating = 3.5 + offset_user[users.astype(int)] + offset_film[films.astype(int)] + rng.normal(0, 0.3, 20000)
    train = pd.DataFrame({"user": users, "item": films, "rating": rating})
    test = pd.DataFrame({"user": ["0", "1", "new"], "item": ["0", "new", "2"]})
    truth = 3.5 + np.array([offset_user[0] + offset_film[0], offset_user[1], offset_film[2]])
    predicted = user_film_biases(train, test, reg_user=1.0, reg_film=1.0)
    assert np.abs(predicted - truth).max() < 0.1   # unknown user or film: bias 0, the other bias kept
    assert np.allclose(global_mean(train, test), rating.mean())


def test_implicit_negatives_share_the_moment_of_their_positive(small_file, tmp_path):
    """A film the user did not rate is drawn at the time of one they did: only the film's columns may differ."""
    task = RatingsTask()
    prepared = task.prepare(_config(tmp_path, small_file, "split=u1"))
    rows = task.pretraining_set(prepared, "rated")
    names = prepared.inputs.feature_names_
    moment = [j for j, name in enumerate(names) if name.startswith(("history_", "user_", "rating_year", "days_since", "age", "gender_",
                                                                      "occupation_"))]
    positives = rows.y > 0
    assert 0 < (~positives).sum() <= positives.sum()
    seen = {tuple(row) for row in rows.features[positives][:, moment]}
    assert all(tuple(row) in seen for row in rows.features[~positives][:, moment])


def test_ranking_metrics_by_hand():
    from pel_torch.tasks.ratings.recommend import best, ranking_metrics

    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    seen = np.array([[True, False, False, False], [False, False, False, False]])
    top, values = best(scores, seen, 2)
    assert top.tolist() == [[1, 2], [3, 2]] and values.tolist() == [[0.8, 0.7], [0.4, 0.3]]
    # user 0: hit at rank 2 of 2 relevant; user 1: hit at rank 1 of 1 relevant; user 2: nothing relevant, left out
    metrics = ranking_metrics(np.array([[1, 2], [3, 2], [0, 1]]), [{2, 0}, {3}, set()], 2)
    assert metrics["users"] == 2 and metrics["precision@2"] == pytest.approx((0.5 + 0.5) / 2)
    ideal_two = 1 + 1 / np.log2(3)
    assert metrics["ndcg@2"] == pytest.approx(((1 / np.log2(3)) / ideal_two + 1.0) / 2)


def test_recommendations_exclude_rated_films_and_are_measured_against_popularity(small_file, tmp_path):
    task = RatingsTask()
    checkpoint = load_checkpoint(scratch(_config(tmp_path, small_file, "stage=scratch", "split=user_temporal")).checkpoint, task)
    output = tmp_path / "recommendations.csv"
    lines = task.recommend(_config(tmp_path, small_file, "split=user_temporal", f"recommend.output={output}", "recommend.k=5",
                                   name="evaluate"), checkpoint)
    recommended = pd.read_csv(output, dtype={"user": str, "item": str})
    assert list(recommended.columns) == ["user", "rank", "item", "predicted_rating"]   # an interactions file has no titles
    ratings = pd.read_csv(small_file, dtype={"customer": str, "film": str})
    rated = set(zip(ratings["customer"], ratings["film"]))
    assert not any((u, m) in rated for u, m in zip(recommended["user"], recommended["item"]))
    assert recommended.groupby("user")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    assert (recommended.groupby("user")["predicted_rating"].diff().dropna() <= 0).all()
    assert recommended["user"].nunique() == len(checkpoint.inputs.users_) and recommended["predicted_rating"].between(0.5, 5.5).all()
    assert lines[0].startswith(f"wrote {len(recommended):,} recommendations") and "precision@5" in lines[-1]
    with pytest.raises(DataError, match="already exists"):
        task.recommend(_config(tmp_path, small_file, "split=user_temporal", f"recommend.output={output}", name="evaluate"), checkpoint)
