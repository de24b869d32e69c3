"""Batched inference with a compiled stack: bounded memory whatever the number of rows."""

import numpy as np
import torch
from torch import nn


def predict_batches(module: nn.Module, raw: np.ndarray, *, batch_size: int = 8192, device: str | torch.device = "cpu") -> np.ndarray:
    """``module`` on ``raw`` ``(n, n_features)`` float64 in batches; returns ``(n,)`` float64 on the CPU."""
    module = module.to(device).eval()
    out = np.empty(len(raw), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(raw), batch_size):
            batch = torch.from_numpy(raw[start:start + batch_size]).to(device)
            out[start:start + len(batch)] = module(batch).double().cpu().numpy()
    return out
