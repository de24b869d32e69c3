"""Fitted torch models that keep the precision they were fitted in, and the calls that only predict."""

from collections.abc import Callable

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


class KeptWhilePredicting(nn.Module):
    """A module that derives one tensor from its weights for every batch (SVD++'s user sums, AutoRec's film codes)
    and, while only predicting, keeps it until a tensor it reads changes: batch after batch would otherwise compute
    the same thing again. Fitting, compiling and exporting compute it each time, so gradients flow through it."""

    def kept(self, compute: Callable[[], torch.Tensor], tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if not only_predicting() or any(tensor.is_inference() for tensor in tensors):   # inference mode: no version to check
            return compute()
        # An optimiser step or load_state_dict bumps a version; a move or a new tensor changes the storage.
        key = tuple((tensor.data_ptr(), tensor._version) for tensor in tensors)
        cached = getattr(self, "_kept", None)
        if cached is None or cached[0] != key or any(a is not b for a, b in zip(cached[1], tensors)):
            self._kept = (key, tensors, compute())
        return self._kept[2]

    def _apply(self, fn, recurse=True):
        self._kept = None
        return super()._apply(fn, recurse)
