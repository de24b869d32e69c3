"""Fitted torch models that keep the precision they were fitted in, and the calls that only predict."""

import torch
from torch import nn


def only_predicting() -> bool:
    """Whether this forward only predicts: no gradient is recorded and nothing is compiled or traced for export.
    Only then may a module read its weights' values to skip work (a zero-weight learner, sums kept between batches):
    a fit needs the gradients, and a trace would bake those values in."""
    return not (torch.is_grad_enabled() or torch.compiler.is_compiling() or torch.compiler.is_exporting())


class FixedPrecision(nn.Module):
    """``module.double()`` / ``.float()`` move such a module between devices but keep its dtypes.

    A fitted network computes in the precision it was trained in: ``stack.double()`` must not turn
    it into a slightly different float64 model, because a stacked tree splitting on its output would
    see other values. Device moves still apply; float32 -> float64 -> float32 is lossless.
    """

    def _apply(self, fn, recurse=True):
        def keep_dtype(tensor):
            moved = fn(tensor)
            return moved.to(tensor.dtype) if tensor.is_floating_point() else moved

        return super()._apply(keep_dtype, recurse)
