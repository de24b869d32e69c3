import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pel_torch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pel_torch.stack.blend import Blend, ScaledStack


@pytest.fixture(scope="module")
def saved(small_stack, box_office, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "stack.safetensors"
    target = {"name": "revenue", "log": True, "mean": 17.0, "std": 2.0}
    return save_checkpoint(path, Blend([ScaledStack(small_stack[1])], ["scratch"]), box_office["featurizer"], task="box_office",
                           stage="scratch", target=target)


def test_round_trip_predicts_bit_identically(saved, small_stack, box_office, task):
    loaded = load_checkpoint(saved, task, feature_names=box_office["featurizer"].feature_names_)
    raw = torch.from_numpy(box_office["raw"])
    with torch.no_grad():
        assert torch.equal(loaded.model.member("scratch").stack(raw), small_stack[1](raw))
        assert torch.equal(loaded.model(raw), small_stack[1](raw))   # a head of one member is the member
    np.testing.assert_array_equal(loaded.inputs.mean_, box_office["featurizer"].mean_)
    assert loaded.spec["stage"] == "scratch" and loaded.spec["library_versions"]["torch"] == torch.__version__
    assert loaded.spec["target"]["mean"] == 17.0 and loaded.spec["task"] == "box_office"
    assert loaded.spec["model"]["members"][0]["stack"]["layers"][0]["names"] == ["catboost", "random_forest", "lightgbm", "xgboost", "neural_net"]


def test_checkpoint_is_plain_tensors_without_pickle(saved):
    tensors = load_file(saved)  # safetensors cannot hold code: nothing is unpickled
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    with safe_open(saved, framework="pt") as file:
        spec = json.loads(file.metadata()["spec"])
    assert spec["format_version"] == 2 and spec["feature_names"] and spec["task"] == "box_office"


def _rewrite(source, target, edit_spec):
    tensors = load_file(source)
    with safe_open(source, framework="pt") as file:
        spec = json.loads(file.metadata()["spec"])
    edit_spec(spec)
    save_file(tensors, target, metadata={"spec": json.dumps(spec)})


def test_refuses_other_features(saved, box_office, task):
    names = list(box_office["featurizer"].feature_names_)
    with pytest.raises(CheckpointError, match=r"made for other features .*missing \['year'\]"):
        load_checkpoint(saved, task, feature_names=names[1:])
    with pytest.raises(CheckpointError, match="same .* names in another order"):
        load_checkpoint(saved, task, feature_names=names[::-1])


def test_refuses_truncated_file(saved, task, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupted or of another kind"):
        load_checkpoint(truncated, task)


def test_refuses_corrupted_tensor_bytes(saved, task, tmp_path):
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF
    corrupted = tmp_path / "corrupted.safetensors"
    corrupted.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(corrupted, task)


@pytest.mark.parametrize("edit, message", [
    ({"format_version": 99, "package_version": "9.0.0"}, "format 99 by pel_torch 9.0.0; .*upgrade pel_torch"),
    ({"format_version": 1}, "format 1, before pel_torch had tasks and one flat head; retrain it"),
    ({"task": "ratings"}, "a checkpoint of task 'ratings', not 'box_office'; run with task=ratings or give a box_office checkpoint"),
])
def test_refuses_other_formats_and_tasks(saved, task, tmp_path, edit, message):
    other = tmp_path / "other.safetensors"
    _rewrite(saved, other, lambda spec: spec.update(edit))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(other, task)


def test_refuses_missing_and_foreign_files(tmp_path, task):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors", task)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a readable pel_torch checkpoint"):
        load_checkpoint(foreign, task)


def test_a_table_with_no_people_or_genres_round_trips_with_its_empty_tensors(films, tmp_path, task):
    """Empty vocabularies (no director, cast, writers, companies), a genre block of width one (only
    'other') and empty track-record arrays save, checksum and load."""
    from pel_torch.tasks.box_office.featurizer import FilmFeaturizer

    minimal = films[["id", "title", "year", "revenue", "rating"]].head(300)
    minimal = minimal.reindex(columns=films.columns)   # the canonical columns, all but these empty
    featurizer = FilmFeaturizer(lead_cast=None).fit(minimal)
    arrays, _ = featurizer.state()
    assert any(v.size == 0 for v in arrays.values())
    assert [n for n in featurizer.feature_names_ if n.startswith("genres_")] == ["genres_other"]
    raw = featurizer.transform_raw(minimal)
    stack = ScaledStack(_linear_stack(featurizer))
    path = save_checkpoint(tmp_path / "empty.safetensors", Blend([stack], ["scratch"]), featurizer, task="box_office",
                           stage="scratch", target={"name": "revenue", "log": True, "mean": 0.0, "std": 1.0})
    loaded = load_checkpoint(path, task)
    np.testing.assert_array_equal(loaded.inputs.transform_raw(minimal), raw)
    with torch.no_grad():
        assert torch.equal(loaded.model(torch.from_numpy(raw)), stack(torch.from_numpy(raw)))


def _linear_stack(featurizer):
    from pel_torch.learners.linear import LinearModel
    from pel_torch.stack.modules import BaggedModule, EnsembleSelection, Stack, StackLayer, Standardize

    layer = StackLayer([BaggedModule([LinearModel(len(featurizer.feature_names_))])], ["linear"])
    return Stack(Standardize.from_arrays(featurizer.mean_, featurizer.std_), [layer], EnsembleSelection(1)).double()


def test_a_missing_stage_points_at_the_stage_that_has_checkpoints(tmp_path):
    from omegaconf import OmegaConf

    from pel_torch.checkpoint import resolve_checkpoint

    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "a.safetensors").write_bytes(b"")
    cfg = OmegaConf.create({"ckpt_path": None, "checkpoints_dir": str(tmp_path)})
    with pytest.raises(CheckpointError, match="or evaluate_stage=scratch for the newest scratch checkpoint$"):
        resolve_checkpoint(cfg, "finetune")
    assert resolve_checkpoint(cfg, "scratch") == tmp_path / "scratch" / "a.safetensors"
