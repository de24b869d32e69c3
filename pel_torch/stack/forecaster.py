"""What a checkpoint holds and serves: a compiled stack, optionally fed by a pretrained prior, with an output affine.

``Forecaster(raw) = scale * stack(inputs) + shift``, where ``inputs`` is ``raw`` or, for the
``prior`` fine-tuning strategy, ``concat(raw, prior(raw))``: the pretrained model's prediction
as one more feature. The affine maps a pretrained stack's scale (e.g. ratings) onto the new
target before gradient fine-tuning; it is the identity for stacks fitted on their own target.

With a ``partner`` (``finetune.blend``), the output is ``(1 - w) * own + w * partner(raw)``: a
selection head over the fine-tuned pretrained stack and a stack fitted on box office alone, ``w``
chosen on the validation films.
"""

import torch
from torch import nn

from pel_torch.stack.modules import Stack


class Forecaster(nn.Module):
    """``(batch, n_features)`` raw features -> ``(batch,)`` prediction of the standardised target."""

    def __init__(self, stack: Stack, prior: "Forecaster | None" = None, partner: "Forecaster | None" = None):
        super().__init__()
        self.stack = stack
        self.prior = prior
        self.output_scale = nn.Parameter(torch.ones((), dtype=torch.float64))
        self.output_shift = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.partner = None
        if partner is not None:
            self.set_partner(partner, 0.0)

    def set_partner(self, partner: "Forecaster | None", weight: float) -> None:
        """Blend ``partner`` in with ``weight`` (a buffer, never trained); ``None`` removes it."""
        self.partner = partner
        if partner is None:
            self._buffers.pop("partner_weight", None)
        else:
            self.register_buffer("partner_weight", torch.tensor(float(weight), dtype=torch.float64))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        own = self.output_scale * self.stack(self.stack_inputs(raw)) + self.output_shift
        if self.partner is None:
            return own
        return (1 - self.partner_weight) * own + self.partner_weight * self.partner(raw)

    def stack_inputs(self, raw: torch.Tensor) -> torch.Tensor:
        if self.prior is None:
            return raw
        return torch.cat([raw.to(torch.float64), self.prior(raw).to(torch.float64).unsqueeze(1)], dim=1)
