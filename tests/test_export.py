"""The exported program is the checkpoint's model: same predictions, loadable by torch alone."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_train import config, workdir  # noqa: F401  (shared fixture: tiny pretrained stack)

from pel_torch.checkpoint import load_checkpoint
from pel_torch.errors import PelError
from pel_torch.export import export_checkpoint, load_exported
from pel_torch.inference import predict_batches
from pel_torch.pipeline import prepare
from pel_torch.stages import scratch

STANDALONE = """
import json, sys, numpy as np, torch
extra = {"meta.json": ""}
program = torch.export.load(sys.argv[1], extra_files=extra)
raw = torch.from_numpy(np.load(sys.argv[2]))
print(json.dumps({"prediction": program.module()(raw).tolist(), "torch_only": "pel_torch" not in sys.modules}))
"""


def test_exported_program_round_trip(workdir, tmp_path):  # noqa: F811
    tmp, _ = workdir
    cfg = config(tmp, "stage=scratch")
    checkpoint = load_checkpoint(scratch(cfg).checkpoint)
    raw = prepare(cfg, featurizer=checkpoint.featurizer).raw[:300]
    path = export_checkpoint(checkpoint, tmp_path / "stack.pt2")
    module, meta = load_exported(path)
    expected = predict_batches(checkpoint.model, raw, batch_size=128)
    np.testing.assert_allclose(module(torch.from_numpy(raw[:128])).detach().numpy(), expected[:128], rtol=0, atol=1e-12)
    assert meta["feature_names"] == checkpoint.featurizer.feature_names_ and meta["target"]["name"] == "revenue"
    np.save(tmp_path / "raw.npy", raw[:7])  # another batch size than the example's
    result = subprocess.run([sys.executable, "-c", STANDALONE, str(path), str(tmp_path / "raw.npy")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    standalone = json.loads(result.stdout)
    assert standalone["torch_only"]
    # Another process, batch shape and thread count: the float32 networks may round a last bit
    # differently (measured up to 6e-9 here), as in any float32 GEMM.
    np.testing.assert_allclose(standalone["prediction"], expected[:7], rtol=0, atol=1e-6)
    with pytest.raises(PelError, match="already exists"):
        export_checkpoint(checkpoint, path)


def test_blended_finetune_checkpoint_exports_with_cpp_kernels_switched_on(workdir, tmp_path):  # noqa: F811
    from pel_torch.inference import use_cpp_kernels
    from pel_torch.stages import finetune

    tmp, _ = workdir
    cfg = config(tmp, "stage=finetune", "finetune.strategy=leaves")
    checkpoint = load_checkpoint(finetune(cfg).checkpoint)
    assert checkpoint.model.partner is not None   # finetune.blend is on by default
    raw = prepare(cfg, featurizer=checkpoint.featurizer).raw[:200]
    expected = predict_batches(checkpoint.model, raw, batch_size=64)
    use_cpp_kernels(checkpoint.model)              # tracing must see the torch kernels, not the C++ calls
    module, _ = load_exported(export_checkpoint(checkpoint, tmp_path / "blend.pt2"))
    np.testing.assert_allclose(module(torch.from_numpy(raw[:64])).detach().numpy(), expected[:64], rtol=0, atol=1e-12)
