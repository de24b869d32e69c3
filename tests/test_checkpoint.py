import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pel_torch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pel_torch.stack.forecaster import Forecaster


@pytest.fixture(scope="module")
def saved(small_stack, box_office, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "stack.safetensors"
    target = {"name": "revenue", "log": True, "mean": 17.0, "std": 2.0}
    return save_checkpoint(path, Forecaster(small_stack[1]), box_office["featurizer"], stage="scratch", target=target)


def test_round_trip_predicts_bit_identically(saved, small_stack, box_office):
    loaded = load_checkpoint(saved, feature_names=box_office["featurizer"].feature_names_)
    raw = torch.from_numpy(box_office["raw"])
    with torch.no_grad():
        assert torch.equal(loaded.stack(raw), small_stack[1](raw))
    np.testing.assert_array_equal(loaded.featurizer.mean_, box_office["featurizer"].mean_)
    assert loaded.spec["stage"] == "scratch" and loaded.spec["library_versions"]["torch"] == torch.__version__
    assert loaded.spec["target"]["mean"] == 17.0
    assert loaded.spec["model"]["stack"]["layers"][0]["names"] == ["catboost", "random_forest", "lightgbm", "xgboost", "neural_net"]


def test_checkpoint_is_plain_tensors_without_pickle(saved):
    tensors = load_file(saved)  # safetensors cannot hold code: nothing is unpickled
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    with safe_open(saved, framework="pt") as file:
        spec = json.loads(file.metadata()["spec"])
    assert spec["format_version"] == 1 and spec["feature_names"]


def _rewrite(source, target, edit_spec):
    tensors = load_file(source)
    with safe_open(source, framework="pt") as file:
        spec = json.loads(file.metadata()["spec"])
    edit_spec(spec)
    save_file(tensors, target, metadata={"spec": json.dumps(spec)})


def test_refuses_other_features(saved, box_office):
    names = list(box_office["featurizer"].feature_names_)
    with pytest.raises(CheckpointError, match=r"made for other features .*missing \['year'\]"):
        load_checkpoint(saved, feature_names=names[1:])
    with pytest.raises(CheckpointError, match="same .* names in another order"):
        load_checkpoint(saved, feature_names=names[::-1])


def test_refuses_truncated_file(saved, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupted or of another kind"):
        load_checkpoint(truncated)


def test_refuses_corrupted_tensor_bytes(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF
    corrupted = tmp_path / "corrupted.safetensors"
    corrupted.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(corrupted)


def test_refuses_future_format(saved, tmp_path):
    future = tmp_path / "future.safetensors"
    _rewrite(saved, future, lambda spec: spec.update(format_version=99, package_version="9.0.0"))
    with pytest.raises(CheckpointError, match="format 99 by pel_torch 9.0.0; .*upgrade pel_torch"):
        load_checkpoint(future)


def test_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a readable pel_torch checkpoint"):
        load_checkpoint(foreign)
