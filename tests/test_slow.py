"""The default-size stack on the real rating table: parity and checkpoint round trip (minutes; -m slow)."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pel_torch.checkpoint import load_checkpoint, save_checkpoint
from pel_torch.compile import compile_stack
from pel_torch.tasks.box_office import BoxOfficeTask
from pel_torch.stack.blend import Blend, ScaledStack

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rating_stack():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import config, fit_default_stack, rating_table

    cfg = config(["split=temporal", "threads=2"])
    prepared, rows, y, _ = rating_table(cfg)
    ensemble, _ = fit_default_stack(cfg, prepared.features[rows], y, progress=False)
    return prepared, rows, ensemble


def test_default_stack_parity_on_the_rating_table(rating_stack):
    prepared, rows, ensemble = rating_stack
    raw = prepared.raw[rows]
    native = ensemble.predict(prepared.inputs.standardize(raw))
    stack = compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_)
    with torch.no_grad():
        np.testing.assert_allclose(stack(torch.from_numpy(raw)).numpy(), native, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(copy.deepcopy(stack).float()(torch.from_numpy(raw)).numpy(), native, rtol=1e-4, atol=1e-6)


def test_default_stack_checkpoint_round_trip(rating_stack, tmp_path):
    prepared, rows, ensemble = rating_stack
    stack = compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_)
    target = {"name": "rating", "log": False, "mean": 0.0, "std": 1.0}
    path = save_checkpoint(tmp_path / "rating.safetensors", Blend([ScaledStack(stack)], ["rating"]), prepared.inputs,
                           task="box_office", stage="pretrain", target=target)
    loaded = load_checkpoint(path, BoxOfficeTask(), feature_names=prepared.inputs.feature_names_)
    raw = torch.from_numpy(prepared.raw[rows[:2000]])
    with torch.no_grad():
        assert torch.equal(loaded.model.member("rating").stack(raw), stack(raw))


@pytest.mark.parametrize("script", ["inference.py --quick --sizes 500 --repeats 1 --json", "fit_stack.py --quick --json"])
def test_benchmarks_run(script):
    result = subprocess.run([sys.executable, *script.split()], cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"rows' in result.stdout
