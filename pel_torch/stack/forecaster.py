"""What a checkpoint holds and serves: a compiled stack, optionally fed by a pretrained prior, with an output affine.

``Forecaster(raw) = scale * stack(inputs) + shift``, where ``inputs`` is ``raw`` or, for the
``prior`` fine-tuning strategy, ``concat(raw, prior(raw))``: the pretrained model's prediction
as one more feature. The affine maps a pretrained stack's scale (e.g. ratings) onto the new
target before gradient fine-tuning; it is the identity for stacks fitted on their own target.
"""

import torch
from torch import nn

from pel_torch.stack.modules import Stack


class Forecaster(nn.Module):
    """``(batch, n_features)`` raw features -> ``(batch,)`` prediction of the standardised target."""

    def __init__(self, stack: Stack, prior: "Forecaster | None" = None):
        super().__init__()
        self.stack = stack
        self.prior = prior
        self.output_scale = nn.Parameter(torch.ones((), dtype=torch.float64))
        self.output_shift = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.output_scale * self.stack(self.stack_inputs(raw)) + self.output_shift

    def stack_inputs(self, raw: torch.Tensor) -> torch.Tensor:
        if self.prior is None:
            return raw
        return torch.cat([raw.to(torch.float64), self.prior(raw).to(torch.float64).unsqueeze(1)], dim=1)
