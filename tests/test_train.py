"""The stages end to end with tiny learners: pretrain -> finetune (each strategy) -> evaluate -> predict."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import config
from pel_torch.checkpoint import CheckpointError, load_checkpoint
from pel_torch.data import load_films
from pel_torch.errors import DataError, PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.finetuning import prior_feature
from pel_torch.inference import predict_batches
from pel_torch.learners.selection import ensemble_selection
from pel_torch.pipeline import build_trainer
from pel_torch.predict import predict_file
from pel_torch.stages import finetune, main_target, pretrain, scratch
from pel_torch.tasks.box_office import BoxOfficeTask


def test_pretrain_saves_one_checkpoint_with_a_stack_per_target(workdir, task):
    tmp, result = workdir
    assert result.checkpoint.parent == tmp / "pretrain" and result.checkpoint.exists()
    assert 0.2 < result.metrics["pretrain/rating/oof_r2"] < 0.9 and 0.1 < result.metrics["pretrain/votes_year/oof_r2"] < 0.9
    checkpoint = load_checkpoint(result.checkpoint, task)
    assert checkpoint.spec["stage"] == "pretrain" and checkpoint.spec["task"] == "box_office"
    assert checkpoint.model.names == ["rating", "votes_year"] and checkpoint.spec["target"]["name"] == "rating"
    assert checkpoint.model.selection_weights() == {"rating": 1.0, "votes_year": 0.0}
    members = checkpoint.spec["extra"]["members"]
    assert members["votes_year"]["target"]["name"] == "votes_year" and len(members["rating"]["oof"]["ids"]) > 1000
    assert list((tmp / "tb" / "pretrain").iterdir())  # a TensorBoard run directory


@pytest.mark.parametrize("strategy", ["prior", "refit", "leaves"])
def test_finetune_strategies_reload_the_newest_pretrain_checkpoint(workdir, task, strategy):
    tmp, pretrained = workdir
    result = finetune(config(tmp, "stage=finetune", f"finetune.strategy={strategy}"))
    checkpoint = load_checkpoint(result.checkpoint, task)
    assert checkpoint.spec["extra"]["strategy"] == strategy
    assert checkpoint.spec["extra"]["pretrain_checkpoint"] == str(pretrained.checkpoint)
    assert checkpoint.model.names == ["rating (fine-tuned)", "votes_year (fine-tuned)", "scratch"]
    assert result.metrics["val/r2"] > 0.3
    metrics = evaluate_checkpoint(config(tmp, name="evaluate"), task, checkpoint)
    assert metrics["test/r2"] > 0.3 and metrics["test/films"] > 500


def test_the_head_is_the_validation_chosen_weighted_sum_of_its_members(workdir, task):
    tmp, _ = workdir
    el = scratch(config(tmp, "stage=scratch"))
    cfg = config(tmp, "stage=finetune", f"finetune.blend_ckpt={el.checkpoint}")
    checkpoint = load_checkpoint(finetune(cfg).checkpoint, task)
    model = checkpoint.model.eval()
    weights = model.head.normalised_weights().detach().numpy()
    assert checkpoint.spec["extra"]["head"] == dict(zip(model.names, weights.tolist()))
    assert checkpoint.spec["extra"]["scratch_source"] == str(el.checkpoint)
    # The weights are ensemble selection on the members' validation predictions, never on test.
    prepared = task.prepare(cfg, inputs=checkpoint.inputs)
    _, y = main_target(task, prepared)
    val = prepared.split.val
    members = np.column_stack([predict_batches(member, prepared.raw[val]) for member in model.members])
    np.testing.assert_array_equal(weights, ensemble_selection(members, y[val], cfg.stack.selection_rounds))
    # So is the head inside the stack fitted on box office alone (EL), over its last layer.
    stack = model.member("scratch").stack
    with torch.no_grad():
        last = stack.layer_outputs(torch.from_numpy(prepared.raw[val]))[-1].numpy()
    np.testing.assert_allclose(stack.head.normalised_weights().detach().numpy(), ensemble_selection(last, y[val], cfg.stack.selection_rounds),
                               rtol=1e-12)
    raw = torch.from_numpy(prepared.raw[:50])
    with torch.no_grad():
        torch.testing.assert_close(model(raw), torch.stack([m(raw) for m in model.members], dim=1) @ torch.from_numpy(weights))
        # The scratch member is the blend_ckpt's stack, unchanged.
        torch.testing.assert_close(model.member("scratch")(raw), load_checkpoint(el.checkpoint, task).model.double()(raw))


def test_finetune_without_blend_heads_over_the_pretrained_stacks_alone(workdir, task):
    tmp, _ = workdir
    checkpoint = load_checkpoint(finetune(config(tmp, "stage=finetune", "finetune.blend=false")).checkpoint, task)
    assert checkpoint.model.names == ["rating (fine-tuned)", "votes_year (fine-tuned)"]
    assert "scratch_source" not in checkpoint.spec["extra"]


def test_prior_feature_is_out_of_fold_for_the_pretraining_films(workdir, task):
    tmp, pretrained = workdir
    checkpoint = load_checkpoint(pretrained.checkpoint, task)
    oof = checkpoint.spec["extra"]["members"]["rating"]["oof"]
    prepared = task.prepare(config(tmp, "stage=finetune"), inputs=checkpoint.inputs)
    assert len(oof["ids"]) == len(oof["values"]) > 1000
    prior = checkpoint.model.member("rating").double().eval()
    feature = prior_feature(prior, oof, prepared)
    in_sample = predict_batches(prior, prepared.raw)
    ids = pd.Series(prepared.ids)
    pretraining = ids.isin(oof["ids"]).to_numpy()
    assert pretraining.sum() > 1000 and (~pretraining).sum() > 100
    by_id = dict(zip(oof["ids"], oof["values"]))
    np.testing.assert_array_equal(feature[pretraining], ids[pretraining].map(by_id).to_numpy())
    np.testing.assert_array_equal(feature[~pretraining], in_sample[~pretraining])
    # they differ from the in-sample predictions the prior fed before: the leak this removes
    assert np.abs(feature[pretraining] - in_sample[pretraining]).mean() > 0.01


def test_refit_starts_the_networks_from_their_pretrained_weights(workdir, task):
    tmp, pretrained = workdir
    # At learning rate 0 a warm-started network keeps the pretrained weights exactly.
    cfg = config(tmp, "stage=finetune", "finetune.strategy=refit", "finetune.blend=false", "++stack.learners.neural_net.learning_rate=0.0")
    refitted = load_checkpoint(finetune(cfg).checkpoint, task).model.member("rating (fine-tuned)").stack
    source = load_checkpoint(pretrained.checkpoint, task).model.member("rating").stack
    for new, old in zip(refitted.layers, source.layers):
        start = old.learners[old.names.index("neural_net")].folds[0].body
        for fold in new.learners[new.names.index("neural_net")].folds:
            for a, b in zip(fold.body.parameters(), start.parameters()):
                torch.testing.assert_close(a, b)
    # a tree learner cannot warm-start: it is refitted on box office
    assert not torch.equal(refitted.layers[0].learners[0].folds[0].leaf_values, source.layers[0].learners[0].folds[0].leaf_values)


@pytest.mark.parametrize("overrides, message", [
    (["stack.n_layers=3"], "the pretrained stack has 2 layers, the config 3"),
    (["++stack.learners.neural_net.hidden=[16]"], "neural_net: cannot start from a network of shape"),
])
def test_refit_refuses_a_stack_config_unlike_the_pretrained_one(workdir, overrides, message):
    tmp, _ = workdir
    with pytest.raises(PelError, match=message):
        finetune(config(tmp, "stage=finetune", "finetune.strategy=refit", "finetune.blend=false", *overrides))


@pytest.fixture(scope="module")
def other_split_scratch(workdir):
    tmp, _ = workdir
    return scratch(config(tmp / "random", "stage=scratch", "split=random")).checkpoint


@pytest.mark.parametrize("blend_ckpt, extra, message", [
    ("pretrain", [], "a pretrain checkpoint; give a scratch checkpoint"),
    ("random", [], "pretrained on another data/split"),
    ("missing", [], "checkpoint not found"),
])
def test_blend_member_errors(workdir, other_split_scratch, blend_ckpt, extra, message):
    tmp, pretrained = workdir
    path = {"pretrain": pretrained.checkpoint, "random": other_split_scratch, "missing": tmp / "none.safetensors"}[blend_ckpt]
    with pytest.raises(CheckpointError, match=message):
        finetune(config(tmp, "stage=finetune", f"finetune.blend_ckpt={path}", *extra))


def test_scratch_takes_the_films_its_caller_prepared(workdir, monkeypatch):
    tmp, _ = workdir
    cfg = config(tmp, "stage=scratch")
    expected = scratch(cfg).metrics
    prepared = BoxOfficeTask().prepare(cfg)
    monkeypatch.setattr(BoxOfficeTask, "prepare", lambda *args, **kwargs: pytest.fail("scratch prepared the films again"))
    assert scratch(cfg, prepared).metrics == expected


def test_scratch_and_batch_prediction(workdir, task, tmp_path):
    tmp, _ = workdir
    result = scratch(config(tmp, "stage=scratch"))
    films = pd.DataFrame({"id": ["a", "b", "c", "d"], "title": ["Heat", None, "Casino", "Ronin"],
                          "year": ["1995", "1995", "1995", "1998"], "director": ["Michael Mann", "", "Martin Scorsese", "John Frankenheimer"],
                          "budget": ["60000000", "1", "lots", "55000000"], "genres": ["Crime|Drama", "", "Crime", "Action"]})
    source = tmp_path / "films.csv"
    films.to_csv(source, index=False)
    checkpoint = load_checkpoint(result.checkpoint, task)
    summary = predict_file(checkpoint, task, source, tmp_path / "out.csv", batch_size=2)
    out = pd.read_csv(tmp_path / "out.csv", dtype={"id": str})
    assert list(out["id"]) == ["a", "b", "c", "d"] and summary.scored == 2
    assert out.loc[1, "reason"] == "no title" and out.loc[2, "reason"] == "budget is not a number: 'lots'"
    assert out["predicted_revenue_usd"].notna().tolist() == [True, False, False, True]
    assert (out.loc[[0, 3], "predicted_revenue_usd"] > 1e4).all()
    with pytest.raises(DataError, match="already exists"):
        predict_file(checkpoint, task, source, tmp_path / "out.csv")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"title": [None, ""], "budget": ["x", "y"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="no usable rows"):
        predict_file(checkpoint, task, bad, tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists() and not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize("overrides, error, message", [
    (["stage=finetune", "split=random"], CheckpointError, "pretrained on another data/split"),
    (["stage=finetune", "features.smoothing=3"], CheckpointError, r"features differ .*features.smoothing: checkpoint 10.0, config 3"),
    (["stage=finetune", "finetune.strategy=magic"], PelError, "unknown finetune.strategy 'magic'"),
    (["stage=finetune", "ckpt_path=/nonexistent.safetensors"], CheckpointError, "checkpoint not found"),
    (["stage=pretrain", "pretrain.targets=[revenue]"], PelError, r"pretrain.targets=\['revenue'\]: box_office pretrains on rating, votes_year"),
    (["stage=pretrain", "pretrain.targets=[]"], PelError, "list one or more of them"),
    (["stage=pretrain", "pretrain.targets=[rating,rating]"], PelError, "repeats a target"),
    (["stage=finetune", "finetune.train=[leaves,thresholds]"], PelError, "unknown parameter group"),
])
def test_bad_stage_settings(workdir, overrides, error, message):
    tmp, _ = workdir
    stage = {"finetune": finetune, "pretrain": pretrain}[overrides[0].split("=")[1]]
    with pytest.raises(error, match=message):
        stage(config(tmp, *overrides))


def test_finetune_without_any_pretrain_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"no pretrain checkpoint under .*run python train.py stage=pretrain"):
        finetune(config(tmp_path, "stage=finetune"))


def test_finetune_with_ddp_on_two_cpu_processes(workdir, task):
    tmp, pretrained = workdir
    result = finetune(config(tmp, "stage=finetune", "finetune.max_epochs=2", "trainer=ddp", "finetune.blend=false"))
    checkpoint = load_checkpoint(result.checkpoint, task)
    assert checkpoint.spec["extra"]["config"]["trainer"]["strategy"] == "ddp_spawn"
    assert checkpoint.spec["extra"]["config"]["trainer"]["devices"] == 2
    # The weights trained in the spawned processes came back to the main process and were saved.
    before = load_checkpoint(pretrained.checkpoint, task).model.member("rating").stack.layers[0].learners[2].folds[0].leaf_values
    after = checkpoint.model.member("rating (fine-tuned)").stack.layers[0].learners[2].folds[0].leaf_values
    assert not torch.equal(before, after)
    assert result.metrics["val/r2"] > 0.1


def test_batch_prediction_with_ddp_equals_one_process(workdir, task, tmp_path):
    tmp, _ = workdir
    checkpoint = load_checkpoint(scratch(config(tmp, "stage=scratch")).checkpoint, task)
    films = load_films("wikidata")[0].iloc[:301].copy()
    films.loc[films.index[7], "runtime"] = -5.0   # one unscorable row keeps its place in the output
    source = tmp_path / "films.parquet"
    films.to_parquet(source)
    single = predict_file(checkpoint, task, source, tmp_path / "single.csv", batch_size=64)
    trainer = build_trainer(config(tmp, "trainer=ddp"), max_epochs=1, logger=False)
    distributed = predict_file(copy.deepcopy(checkpoint), task, source, tmp_path / "ddp.csv", batch_size=64, trainer=trainer)
    assert (single.rows, single.scored) == (distributed.rows, distributed.scored) == (301, 300)
    expected, actual = pd.read_csv(tmp_path / "single.csv"), pd.read_csv(tmp_path / "ddp.csv")
    # Worker processes batch other rows with other thread counts: the float32 networks round a
    # last bit differently (~1e-8 relative here), as float32 GEMM does by batch shape and threads.
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-6)
    assert actual.loc[7, "reason"] == "runtime is negative" and not list(tmp_path.glob(".predict-*"))


def test_votes_year_target_uses_only_pretraining_films(tmp_path, task):
    prepared = task.prepare(config(tmp_path))
    rows = task.pretraining_set(prepared, "votes_year")
    assert rows.target["name"] == "votes_year" and np.isfinite(rows.y).all()
    positions = np.flatnonzero(np.isin(prepared.ids, rows.ids))
    assert set(positions) <= set(prepared.split.pretrain) and len(rows.y) > 5000
    assert abs(rows.y.mean()) < 0.1 and 0.8 < rows.y.std() < 1.2
    assert not set(positions) & set(prepared.split.test)   # test-period films never shape the target
