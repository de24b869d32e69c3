"""Users' own film tables: every shape runs pretrain -> finetune -> evaluate -> predict -> export, or is refused in one line.

Each table is cut from the embedded films (box-office films, and rated films without box office
to pretrain on), then columns are dropped, renamed or rescaled the way users' files differ.
"""

import numpy as np
import pandas as pd
import pytest

from conftest import config
from pel_torch.checkpoint import load_checkpoint
from pel_torch.errors import PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.export import export_checkpoint
from pel_torch.predict import predict_file
from pel_torch.stages import finetune, pretrain, scratch

# Two small learners are enough: what differs between shapes is the inputs, not the learners.
SHAPE = ["stack.layer=[lightgbm,random_forest]", "++stack.learners.lightgbm.n_estimators=10",
         "++stack.learners.random_forest.n_estimators=5", "finetune.max_epochs=1"]
EVERYTHING = ["title", "release_date", "year", "director", "cast", "writers", "genres", "companies", "countries",
              "language", "mpaa", "runtime", "votes", "revenue", "rating"]


@pytest.fixture(scope="module")
def base(wikidata):
    films = wikidata[0]
    rng = np.random.default_rng(0)
    box_office = films.index[films["revenue"].notna() & films["rating"].notna()]
    rated = films.index[films["revenue"].isna() & films["rating"].notna()]
    rows = np.concatenate([rng.choice(box_office, 260, replace=False), rng.choice(rated, 340, replace=False)])
    table = films.loc[rows, EVERYTHING].reset_index(drop=True)
    table["budget"] = table["revenue"] * np.exp(rng.normal(-0.5, 0.5, len(table)))   # a budget column, for the shapes that have one
    return table


def _shape(base, name):
    table = base.copy()
    if name == "minimal":
        return table[["title", "year", "revenue", "rating"]], []
    if name == "no review counts":
        return table.drop(columns=["votes"]), []
    if name == "no cast or writers":
        return table.drop(columns=["cast", "writers"]), []
    if name == "only budget and genres":
        return table[["title", "budget", "genres", "revenue", "rating"]], ["split=random"]
    if name == "ratings on 1-10":
        return table.assign(rating=np.clip(table["rating"], 1, 10)), []
    if name == "ratings on 0-100":
        return table.assign(rating=table["rating"] * 10), []
    if name == "columns under other names":
        renamed = table.rename(columns={"title": "Film", "revenue": "Worldwide Gross", "rating": "IMDB Rating", "year": "Year"})
        return renamed, ["data.options.columns={title: Film, revenue: 'Worldwide Gross', rating: 'IMDB Rating', year: Year}"]
    if name == "fewer than 50 films":
        return pd.concat([table[table["revenue"].notna()].head(36), table[table["revenue"].isna()].head(12)]), ["split=random"]
    raise KeyError(name)


def _write(tmp_path, table):
    path = tmp_path / "films.csv"
    table.to_csv(path, index=False)
    return path


def _config(tmp_path, path, stage, *overrides, name="train"):
    return config(tmp_path, f"stage={stage}", "data=csv", f"data.paths=[{path}]", *SHAPE, *overrides, name=name)


@pytest.mark.parametrize("name", ["minimal", "no review counts", "no cast or writers", "only budget and genres",
                                  "ratings on 1-10", "ratings on 0-100", "columns under other names", "fewer than 50 films"])
def test_every_stage_runs_on_the_shape(base, task, tmp_path, name):
    table, overrides = _shape(base, name)
    path = _write(tmp_path, table)
    pretrained = pretrain(_config(tmp_path, path, "pretrain", *overrides))
    members = load_checkpoint(pretrained.checkpoint, task).model.names
    assert members == (["rating", "votes_year"] if "votes" in table.columns else ["rating"])   # no review counts: skipped
    checkpoint = load_checkpoint(finetune(_config(tmp_path, path, "finetune", *overrides)).checkpoint, task)
    metrics = evaluate_checkpoint(_config(tmp_path, path, "evaluate", *overrides, name="evaluate"), task, checkpoint)
    assert np.isfinite(metrics["test/r2"]) and metrics["test/films"] >= 7
    summary = predict_file(checkpoint, task, path, tmp_path / "predictions.csv")
    out = pd.read_csv(tmp_path / "predictions.csv", keep_default_na=False)
    assert summary.rows == len(table) and (out["id"] == "").all()   # the table has no id: the column stays empty
    assert out["predicted_revenue_usd"].replace("", np.nan).astype(float).gt(0).sum() == summary.scored > 0
    assert export_checkpoint(checkpoint, tmp_path / "model.pt2").exists()


def test_a_table_without_ratings_refuses_pretraining_and_trains_from_scratch(base, task, tmp_path):
    path = _write(tmp_path, base.drop(columns=["rating", "votes"]))
    with pytest.raises(PelError, match=r"no pretraining target has enough rows on this table \(rating: 0 rows from the 'rating' column; "
                                       r"votes_year: 0 rows from the 'votes' column; .*python train.py stage=scratch"):
        pretrain(_config(tmp_path, path, "pretrain"))
    checkpoint = load_checkpoint(scratch(_config(tmp_path, path, "scratch")).checkpoint, task)
    cfg = _config(tmp_path, path, "evaluate", name="evaluate")
    assert np.isfinite(evaluate_checkpoint(cfg, task, checkpoint)["test/r2"])
    assert predict_file(checkpoint, task, path, tmp_path / "out.csv").scored == len(base)


@pytest.mark.parametrize("edit, overrides, stage, message", [
    (lambda t: t.drop(columns=["revenue"]), [], "pretrain",
     r"films.csv: 0 films have 'revenue' \(box office in USD\), the target of task box_office; at least 10 are needed. .*data.options.columns=\{revenue: YOUR_COLUMN\}"),
    (lambda t: t.assign(year=2005, release_date=None), [], "scratch",
     r"temporal split: every box-office film is from 2005, too few years to hold out later films .*use split=random"),
    (lambda t: t.drop(columns=["year", "release_date"]), [], "scratch", "temporal split: no box-office film has a year or release date; use split=random"),
    (lambda t: t[t["revenue"].notna()].head(36), ["split=random", "stack.n_folds=5"], "scratch",
     r"only 22 training rows have the target for stack.n_folds=5 \(10 per fold, 50 in all\); add rows or lower stack.n_folds"),
])
def test_shapes_that_cannot_work_are_refused_in_one_line(base, tmp_path, edit, overrides, stage, message):
    path = _write(tmp_path, edit(base))
    with pytest.raises(PelError, match=message) as caught:
        {"pretrain": pretrain, "scratch": scratch}[stage](_config(tmp_path, path, stage, *overrides))
    assert "\n" not in str(caught.value)


def test_votes_column_absent_is_skipped_with_one_line_and_a_weak_premise_is_logged(base, tmp_path, caplog):
    # Only box-office films: rated films are no more plentiful than box-office films.
    path = _write(tmp_path, base[base["revenue"].notna()].drop(columns=["votes"]))
    with caplog.at_level("INFO"):
        pretrain(_config(tmp_path, path, "pretrain"))
    assert "pretrain: skipping target votes_year: 0 rows have it (from the 'votes' column), 20 are needed for 2 folds" in caplog.text
    assert "P-EL's premise (plentiful pretraining rows, scarce target rows) is weak on this table" in caplog.text
