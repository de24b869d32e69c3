"""The stages end to end with tiny learners: pretrain -> finetune (each strategy) -> evaluate -> predict."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from pel_torch.checkpoint import CheckpointError, load_checkpoint
from pel_torch.errors import DataError, PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.predict import predict_file
from pel_torch.data import load_films
from pel_torch.inference import predict_batches
from pel_torch import stages
from pel_torch.pipeline import prepare
from pel_torch.stages import blend_weight, build_trainer, finetune, prior_feature, pretrain, scratch

ROOT = Path(__file__).resolve().parents[1]
TINY = ["stack.n_folds=2", "++stack.learners.catboost.iterations=20", "++stack.learners.random_forest.n_estimators=10",
        "++stack.learners.lightgbm.n_estimators=20", "++stack.learners.xgboost.n_estimators=20",
        "++stack.learners.neural_net.max_epochs=2", "finetune.max_epochs=2", "trainer.progress_bar=false"]


def config(tmp, *overrides, name="train"):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(name, overrides=[*TINY, f"checkpoints_dir={tmp}", f"logger.save_dir={tmp}/tb", *overrides])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    result = pretrain(config(tmp, "stage=pretrain"))
    return tmp, result


def test_pretrain_saves_a_checkpoint_that_predicts_ratings(workdir):
    tmp, result = workdir
    assert result.checkpoint.parent == tmp / "pretrain" and result.checkpoint.exists()
    assert 0.2 < result.metrics["pretrain/oof_r2"] < 0.9
    spec = load_checkpoint(result.checkpoint).spec
    assert spec["stage"] == "pretrain" and spec["target"]["name"] == "rating"
    assert list((tmp / "tb" / "pretrain").iterdir())  # a TensorBoard run directory


@pytest.mark.parametrize("strategy", ["prior", "refit", "leaves"])
def test_finetune_strategies_reload_the_newest_pretrain_checkpoint(workdir, strategy):
    tmp, pretrained = workdir
    result = finetune(config(tmp, "stage=finetune", f"finetune.strategy={strategy}"))
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.spec["extra"]["strategy"] == strategy
    assert checkpoint.spec["extra"]["pretrain_checkpoint"] == str(pretrained.checkpoint)
    assert result.metrics["val/r2"] > 0.3
    metrics = evaluate_checkpoint(config(tmp, name="evaluate"), checkpoint)
    assert metrics["test/r2"] > 0.3 and metrics["test/films"] > 500


def test_prior_feature_is_out_of_fold_for_the_pretraining_films(workdir):
    tmp, pretrained = workdir
    checkpoint = load_checkpoint(pretrained.checkpoint)
    oof = checkpoint.spec["extra"]["oof"]
    prepared = prepare(config(tmp, "stage=finetune"), featurizer=checkpoint.featurizer)
    assert len(oof["ids"]) == len(oof["values"]) > 1000
    prior = checkpoint.model.double().eval()
    feature = prior_feature(prior, checkpoint, prepared)
    in_sample = predict_batches(prior, prepared.raw)
    ids = prepared.films["id"].astype(str)
    pretraining = ids.isin(oof["ids"]).to_numpy()
    assert pretraining.sum() > 1000 and (~pretraining).sum() > 100
    by_id = dict(zip(oof["ids"], oof["values"]))
    np.testing.assert_array_equal(feature[pretraining], ids[pretraining].map(by_id).to_numpy())
    np.testing.assert_array_equal(feature[~pretraining], in_sample[~pretraining])
    # they differ from the in-sample predictions the prior fed before: the leak this removes
    assert np.abs(feature[pretraining] - in_sample[pretraining]).mean() > 0.01


def test_blend_with_a_scratch_or_finetune_checkpoint_is_the_weighted_sum(workdir):
    tmp, _ = workdir
    el = scratch(config(tmp, "stage=scratch"))
    result = finetune(config(tmp, "stage=finetune", "finetune.strategy=leaves", f"finetune.blend_ckpt={el.checkpoint}", "finetune.chain=false"))
    checkpoint = load_checkpoint(result.checkpoint)
    weight = checkpoint.spec["extra"]["blend_weight"]
    assert 0.0 <= weight <= 1.0 and checkpoint.spec["extra"]["blend_source"] == str(el.checkpoint)
    assert float(checkpoint.model.partner_weight) == weight
    raw = torch.from_numpy(load_checkpoint(el.checkpoint).featurizer.transform_raw(load_films("wikidata")[0].iloc[:50]))
    model = checkpoint.model.eval()
    with torch.no_grad():
        blended = model(raw)
        partner = model.partner(raw)
        model.set_partner(None, 0.0)
        own = model(raw)
    torch.testing.assert_close(blended, (1 - weight) * own + weight * partner)
    torch.testing.assert_close(partner, load_checkpoint(el.checkpoint).model.double()(raw))

    # a chain: another fine-tuned stack blended with that whole head, saved and reloaded nested
    chained = load_checkpoint(finetune(config(tmp, "stage=finetune", f"finetune.blend_ckpt={result.checkpoint}", "finetune.chain=false")).checkpoint)
    outer = chained.spec["extra"]["blend_weight"]
    model = chained.model.eval()
    assert model.partner.partner is not None
    with torch.no_grad():
        blended = model(raw)
        model.set_partner(None, 0.0)
        own = model(raw)
        head = load_checkpoint(result.checkpoint).model.double().eval()(raw)
    torch.testing.assert_close(blended, (1 - outer) * own + outer * head)


def test_soft_split_finetuning_moves_thresholds_and_saves_hard_trees(workdir):
    tmp, pretrained = workdir
    result = finetune(config(tmp, "stage=finetune", "finetune.blend=false", "finetune.max_epochs=3",
                             "finetune.soft_splits.learners=[catboost,xgboost]", "finetune.soft_splits.anneal_epochs=2"))
    before, after = load_checkpoint(pretrained.checkpoint).model, load_checkpoint(result.checkpoint).model
    last_before, last_after = before.stack.layers[-1], after.stack.layers[-1]
    moved = {}
    for name, buffer in (("catboost", "border_bits"), ("xgboost", "nodes"), ("lightgbm", "nodes"), ("random_forest", "nodes")):
        old = [getattr(fold, buffer) for fold in last_before.learners[last_before.names.index(name)].folds]
        new = last_after.learners[last_after.names.index(name)].folds
        assert all(fold.soft is None for fold in new)                      # saved and reloaded as hard trees
        moved[name] = any(bool((getattr(fold, buffer) != o).any()) for fold, o in zip(new, old))
    # a learner the head weighs at 0 gets no gradient, so not every softened one need move
    assert (moved["catboost"] or moved["xgboost"]) and not moved["lightgbm"] and not moved["random_forest"]
    assert result.metrics["val/r2"] > 0.3


def test_out_of_fold_finetuning_trains_and_saves(workdir):
    tmp, _ = workdir
    result = finetune(config(tmp, "stage=finetune", "finetune.out_of_fold=true", "finetune.blend=false"))
    assert result.metrics["val/r2"] > 0.3
    assert load_checkpoint(result.checkpoint).spec["extra"]["config"]["finetune"]["out_of_fold"] is True


def test_pretrain_saves_its_chain_and_finetune_heads_over_it(workdir):
    """The default: rating + (votes_year + EL), the same model as fine-tuning the votes_year stack
    onto EL by hand and the rating stack onto that (the five-command chain Table 2 measured)."""
    tmp, pretrained = workdir
    chain = load_checkpoint(pretrained.checkpoint).spec["extra"]["chain"]
    assert [entry["target"] for entry in chain] == ["votes_year"] and 0.1 < pretrained.metrics["pretrain/votes_year/oof_r2"] < 0.9
    member_path = pretrained.checkpoint.parent / chain[0]["checkpoint"]
    assert member_path.parent == tmp / "pretrain" / "chain" / "votes_year"
    assert load_checkpoint(member_path).spec["target"]["name"] == "votes_year"

    el = scratch(config(tmp, "stage=scratch"))
    result = finetune(config(tmp, "stage=finetune", f"finetune.blend_ckpt={el.checkpoint}", f"ckpt_path={pretrained.checkpoint}"))
    checkpoint = load_checkpoint(result.checkpoint)
    heads = checkpoint.spec["extra"]["chain"]
    assert [h["target"] for h in heads] == ["votes_year"] and heads[0]["pretrain_checkpoint"] == str(member_path)
    by_hand = load_checkpoint(finetune(config(tmp, "stage=finetune", f"ckpt_path={member_path}",
                                              f"finetune.blend_ckpt={el.checkpoint}", f"checkpoints_dir={tmp}/by_hand")).checkpoint)
    assert by_hand.spec["extra"]["blend_weight"] == heads[0]["blend_weight"]
    raw = torch.from_numpy(checkpoint.featurizer.transform_raw(load_films("wikidata")[0].iloc[:50]))
    model = checkpoint.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.partner(raw), by_hand.model.double().eval()(raw))
        torch.testing.assert_close(model.partner.partner(raw), load_checkpoint(el.checkpoint).model.double()(raw))


def test_finetune_refuses_a_chain_with_a_missing_member(workdir, tmp_path):
    tmp, pretrained = workdir
    alone = tmp_path / "pretrain" / pretrained.checkpoint.name
    alone.parent.mkdir()
    alone.write_bytes(pretrained.checkpoint.read_bytes())
    with pytest.raises(CheckpointError, match=r"chain member 'votes_year' .* is missing; pretrain again .* or set finetune.chain=false"):
        finetune(config(tmp, "stage=finetune", f"ckpt_path={alone}"))
    # without the chain it fine-tunes the main stack onto EL alone
    result = finetune(config(tmp, "stage=finetune", f"ckpt_path={alone}", "finetune.chain=false", f"checkpoints_dir={tmp_path}"))
    assert "chain" not in load_checkpoint(result.checkpoint).spec["extra"]


def test_blend_refuses_a_pretrain_checkpoint(workdir):
    tmp, pretrained = workdir
    with pytest.raises(CheckpointError, match="a pretrain checkpoint; blend with a box-office checkpoint"):
        finetune(config(tmp, "stage=finetune", f"finetune.blend_ckpt={pretrained.checkpoint}"))


def test_blend_weight_is_chosen_by_squared_error():
    rng = np.random.default_rng(0)
    y = rng.normal(size=4000)
    assert blend_weight(y, y + rng.normal(size=4000), y) == 0.0                        # a perfect stack needs no partner
    assert blend_weight(y + rng.normal(size=4000), y + rng.normal(size=4000), y) == pytest.approx(0.5, abs=0.05)
    assert blend_weight(y + 3 * rng.normal(size=4000), y, y) == 1.0


def test_scratch_takes_the_films_its_caller_prepared(workdir, monkeypatch):
    tmp, _ = workdir
    cfg = config(tmp, "stage=scratch")
    expected = scratch(cfg).metrics
    prepared = prepare(cfg)
    monkeypatch.setattr(stages, "prepare", lambda *args, **kwargs: pytest.fail("scratch prepared the films again"))
    assert scratch(cfg, prepared).metrics == expected


def test_scratch_and_batch_prediction(workdir, tmp_path):
    tmp, _ = workdir
    result = scratch(config(tmp, "stage=scratch"))
    films = pd.DataFrame({"id": ["a", "b", "c", "d"], "title": ["Heat", None, "Casino", "Ronin"],
                          "year": ["1995", "1995", "1995", "1998"], "director": ["Michael Mann", "", "Martin Scorsese", "John Frankenheimer"],
                          "budget": ["60000000", "1", "lots", "55000000"], "genres": ["Crime|Drama", "", "Crime", "Action"]})
    source = tmp_path / "films.csv"
    films.to_csv(source, index=False)
    summary = predict_file(load_checkpoint(result.checkpoint), source, tmp_path / "out.csv", batch_size=2)
    out = pd.read_csv(tmp_path / "out.csv", dtype={"id": str})
    assert list(out["id"]) == ["a", "b", "c", "d"] and summary.scored == 2
    assert out.loc[1, "reason"] == "no title" and out.loc[2, "reason"] == "budget is not a number: 'lots'"
    assert out["predicted_revenue_usd"].notna().tolist() == [True, False, False, True]
    assert (out.loc[[0, 3], "predicted_revenue_usd"] > 1e4).all()
    with pytest.raises(DataError, match="already exists"):
        predict_file(load_checkpoint(result.checkpoint), source, tmp_path / "out.csv")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"title": [None, ""], "budget": ["x", "y"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="no usable rows"):
        predict_file(load_checkpoint(result.checkpoint), bad, tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists() and not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize("overrides, error, message", [
    (["stage=finetune", "split=random"], CheckpointError, "pretrained on another data/split"),
    (["stage=finetune", "features.smoothing=3"], CheckpointError, r"features differ .*features.smoothing"),
    (["stage=finetune", "finetune.strategy=magic"], PelError, "unknown finetune.strategy 'magic'"),
    (["stage=finetune", "ckpt_path=/nonexistent.safetensors"], CheckpointError, "checkpoint not found"),
    (["stage=pretrain", "pretrain.target=revenue"], PelError, "unknown pretraining target 'revenue' in pretrain.target"),
    (["stage=pretrain", "pretrain.chain=[votes,votes]"], PelError, r"pretrain.chain=\['votes', 'votes'\] repeats a target"),
    (["stage=finetune", "finetune.soft_splits.learners=[ridge]"], PelError, "ridge not in the stack's last layer"),
    (["stage=finetune", "finetune.soft_splits.learners=[catboost]", "finetune.strategy=refit"], PelError, "needs finetune.strategy=leaves"),
    (["stage=finetune", "finetune.soft_splits.learners=[catboost]", "finetune.soft_splits.temperature=0"], PelError, "temperature must be > 0"),
    (["stage=finetune", "finetune.out_of_fold=true", "finetune.strategy=prior"], PelError, "out_of_fold needs finetune.strategy=leaves"),
])
def test_bad_stage_settings(workdir, overrides, error, message):
    tmp, _ = workdir
    stage = {"finetune": finetune, "pretrain": pretrain}[overrides[0].split("=")[1]]
    with pytest.raises(error, match=message):
        stage(config(tmp, *overrides))


def test_finetune_without_any_pretrain_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"no pretrain checkpoint under .*run python train.py stage=pretrain"):
        finetune(config(tmp_path, "stage=finetune"))


@pytest.mark.parametrize("script, args, message", [
    ("train.py", ["stage=fly"], "error: unknown stage 'fly'"),
    ("evaluate.py", ["checkpoints_dir=/nonexistent"], "error: no finetune checkpoint under /nonexistent"),
    ("evaluate.py", ["ckpt_path=README.md"], "error: README.md: not a readable pel_torch checkpoint"),
])
def test_entry_points_fail_with_one_line(script, args, message):
    result = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(message)


def test_finetune_with_ddp_on_two_cpu_processes(workdir):
    tmp, pretrained = workdir
    result = finetune(config(tmp, "stage=finetune", "finetune.strategy=leaves", "finetune.max_epochs=2", "trainer=ddp", "finetune.chain=false"))
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.spec["extra"]["config"]["trainer"]["strategy"] == "ddp_spawn"
    assert checkpoint.spec["extra"]["config"]["trainer"]["devices"] == 2
    # The weights trained in the spawned processes came back to the main process and were saved.
    before = load_checkpoint(pretrained.checkpoint).model.stack.layers[0].learners[2].folds[0].leaf_values
    after = checkpoint.model.stack.layers[0].learners[2].folds[0].leaf_values
    assert not torch.equal(before, after)
    assert result.metrics["val/r2"] > 0.1


def test_batch_prediction_with_ddp_equals_one_process(workdir, tmp_path):
    tmp, _ = workdir
    checkpoint = load_checkpoint(scratch(config(tmp, "stage=scratch")).checkpoint)
    films = load_films("wikidata")[0].iloc[:301].copy()
    films.loc[films.index[7], "runtime"] = -5.0   # one unscorable row keeps its place in the output
    source = tmp_path / "films.parquet"
    films.to_parquet(source)
    single = predict_file(checkpoint, source, tmp_path / "single.csv", batch_size=64)
    trainer = build_trainer(config(tmp, "trainer=ddp"), max_epochs=1, logger=False)
    distributed = predict_file(checkpoint, source, tmp_path / "ddp.csv", batch_size=64, trainer=trainer)
    assert (single.rows, single.scored) == (distributed.rows, distributed.scored) == (301, 300)
    expected, actual = pd.read_csv(tmp_path / "single.csv"), pd.read_csv(tmp_path / "ddp.csv")
    # Worker processes batch other rows with other thread counts: the float32 networks round a
    # last bit differently (~1e-8 relative here), as float32 GEMM does by batch shape and threads.
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-6)
    assert actual.loc[7, "reason"] == "runtime is negative" and not list(tmp_path.glob(".predict-*"))


def test_votes_year_target_uses_only_pretraining_films(tmp_path):
    from pel_torch.pipeline import prepare
    from pel_torch.stages import pretraining_target

    prepared = prepare(config(tmp_path))
    rows, y, target = pretraining_target(prepared, "votes_year")
    assert target["name"] == "votes_year" and np.isfinite(y).all()
    assert set(rows) <= set(prepared.split.pretrain) and len(rows) > 5000
    assert abs(y.mean()) < 0.1 and 0.8 < y.std() < 1.2
    assert not set(rows) & set(prepared.split.test)   # test-period films never shape the target
