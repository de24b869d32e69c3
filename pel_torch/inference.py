"""Batched inference with a compiled stack: bounded memory whatever the number of rows."""

import numpy as np
import torch
from torch import nn

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble

# Eager kernels keep (batch, n_trees) index tensors per level: at 1,024 rows they stay in cache.
# Measured on the default stack, 2 threads: 1,650 rows/s at 1,024, 1,080 at 4,096, 380 at 16,384
# (docs/benchmarks.md). Compiled kernels prefer large batches (8,192).
EAGER_BATCH_SIZE = 1024


def compile_trees(module: nn.Module) -> nn.Module:
    """``torch.compile`` every tree kernel inside ``module``, in place, and return it.

    Inductor fuses each kernel's gathers and comparisons into one C++ loop on CPU (a C++ compiler
    is needed) or a Triton kernel on GPU. Kernels are compiled one by one: a whole-stack graph took
    minutes and crashed GCC 12. Shapes are static, so callers must keep the batch size fixed
    (``predict_batches`` pads the last batch); each new shape costs a recompile.
    """
    for child in module.modules():
        if isinstance(child, (PerfectTreeEnsemble, ObliviousEnsemble)):
            child.compile(dynamic=False)
    return module


def predict_batches(module: nn.Module, raw: np.ndarray, *, batch_size: int = EAGER_BATCH_SIZE, device: str | torch.device = "cpu",
                    pad: bool = False) -> np.ndarray:
    """``module`` on ``raw`` ``(n, n_features)`` float64 in batches; returns ``(n,)`` float64 on the CPU.

    ``pad``: fill the last batch up to ``batch_size`` (with copies of its first row), so a module
    compiled for one shape never recompiles.
    """
    module = module.to(device).eval()
    out = np.empty(len(raw), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(raw), batch_size):
            rows = raw[start:start + batch_size]
            if pad and len(rows) < batch_size:
                rows = np.concatenate([rows, np.repeat(rows[:1], batch_size - len(rows), axis=0)])
            n = min(batch_size, len(raw) - start)
            out[start:start + n] = module(torch.from_numpy(rows).to(device)).double().cpu().numpy()[:n]
    return out
