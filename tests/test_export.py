"""The exported program is the checkpoint's model: same predictions, loadable by torch alone."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import config
from pel_torch.checkpoint import load_checkpoint
from pel_torch.compile.kernels import CPP
from pel_torch.errors import PelError
from pel_torch.export import export_checkpoint, load_exported
from pel_torch.inference import predict_batches, set_kernel
from pel_torch.stages import finetune, scratch

# Run as ``python -S`` (site-packages added by hand, so the editable install's path hook never loads)
# from a folder without pel_torch: there, pel_torch cannot be imported, and the program must still load.
STANDALONE = """
import importlib.util, json, sys
import numpy as np, torch
extra = {"meta.json": ""}
program = torch.export.load(sys.argv[1], extra_files=extra)
raw = torch.from_numpy(np.load(sys.argv[2]))
print(json.dumps({"prediction": program.module()(raw).tolist(), "pel_torch_importable": importlib.util.find_spec("pel_torch") is not None}))
"""


def test_exported_program_round_trip(workdir, task, tmp_path):
    tmp, _ = workdir
    cfg = config(tmp, "stage=scratch")
    checkpoint = load_checkpoint(scratch(cfg).checkpoint, task)
    raw = task.prepare(cfg, inputs=checkpoint.inputs).raw[:300]
    path = export_checkpoint(checkpoint, tmp_path / "stack.pt2")
    module, meta = load_exported(path)
    expected = predict_batches(checkpoint.model, raw, batch_size=128)
    np.testing.assert_allclose(module(torch.from_numpy(raw[:128])).detach().numpy(), expected[:128], rtol=0, atol=1e-12)
    assert meta["feature_names"] == checkpoint.feature_names and meta["target"]["name"] == "revenue" and meta["task"] == "box_office"
    np.save(tmp_path / "raw.npy", raw[:7])  # another batch size than the example's
    site = subprocess.run([sys.executable, "-c", "import site, json; print(json.dumps(site.getsitepackages()))"],
                          capture_output=True, text=True, check=True).stdout
    result = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path += {site.strip()}\n" + STANDALONE, str(path),
                             str(tmp_path / "raw.npy")], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    standalone = json.loads(result.stdout)
    assert standalone["pel_torch_importable"] is False
    # Another process, batch shape and thread count: the float32 networks may round a last bit
    # differently (measured up to 6e-9 here), as in any float32 GEMM.
    np.testing.assert_allclose(standalone["prediction"], expected[:7], rtol=0, atol=1e-6)
    with pytest.raises(PelError, match="already exists"):
        export_checkpoint(checkpoint, path)


@pytest.mark.slow   # 66 s: a full finetune first; test_exported_program_round_trip keeps export in the quick suite
def test_finetune_head_exports_with_cpp_kernels_switched_on(workdir, task, tmp_path):
    tmp, _ = workdir
    cfg = config(tmp, "stage=finetune", "finetune.strategy=leaves")
    checkpoint = load_checkpoint(finetune(cfg).checkpoint, task)
    assert len(checkpoint.model.members) == 3   # rating, votes_year and EL under one head
    raw = task.prepare(cfg, inputs=checkpoint.inputs).raw[:200]
    expected = predict_batches(checkpoint.model, raw, batch_size=64)
    set_kernel(checkpoint.model, CPP)              # tracing must see the torch kernels, not the C++ calls
    module, _ = load_exported(export_checkpoint(checkpoint, tmp_path / "blend.pt2"))
    np.testing.assert_allclose(module(torch.from_numpy(raw[:64])).detach().numpy(), expected[:64], rtol=0, atol=1e-12)
