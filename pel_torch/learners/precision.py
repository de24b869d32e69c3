"""Fitted torch models that keep the precision they were fitted in."""

from torch import nn


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
