"""What a checkpoint serves: stacks with an output affine, and one flat selection head over them.

``ScaledStack(raw) = scale * stack(inputs) + shift``, where ``inputs`` is ``raw`` or, for the
``prior`` fine-tuning strategy, ``concat(raw, prior(raw))``: the pretrained model's prediction as
one more input column. The affine maps a pretrained stack's scale (ratings, say) onto the job's
target before gradient fine-tuning; it is the identity for a stack fitted on its own target.

``Blend(raw) = sum_k w_k * member_k(raw)``: the selection head over N members, for example the
fine-tuned pretrained stacks and the stack fitted on the job's target alone, with weights chosen
on validation. A checkpoint's model is always a ``Blend``, of one member where there is no head.
"""

import torch
from torch import nn

from pel_torch.stack.modules import EnsembleSelection, Stack, side_by_side


class ScaledStack(nn.Module):
    """``(batch, n_inputs)`` raw inputs -> ``(batch,)`` prediction of the standardised target."""

    def __init__(self, stack: Stack, prior: "ScaledStack | None" = None):
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

    def selection_weights(self) -> dict[str, float]:
        """The stack's own head: the weight of each learner of its last layer (averaged over the head's groups)."""
        weights = self.stack.head.mean_weights().detach().cpu().tolist()
        return dict(zip(self.stack.layers[-1].names, weights))


class Blend(nn.Module):
    """The flat selection head over named members: ``(batch, n_inputs) -> (batch,)``."""

    def __init__(self, members: list[ScaledStack], names: list[str], weights=None):
        super().__init__()
        if len(members) != len(names) or len(set(names)) != len(names):
            raise ValueError(f"a blend needs one distinct name per member, got {names} for {len(members)} members")
        self.members = nn.ModuleList(members)
        self.names = list(names)
        self.head = EnsembleSelection(len(members))
        if weights is not None:
            with torch.no_grad():
                self.head.weights.copy_(torch.as_tensor(weights, dtype=torch.float64))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.head(side_by_side(self.members, raw, self.head.weights.dtype, self.head.models_to_run()))

    def member(self, name: str) -> ScaledStack:
        return self.members[self.names.index(name)]

    def selection_weights(self) -> dict[str, float]:
        return dict(zip(self.names, self.head.normalised_weights().detach().cpu().tolist()))
