"""Soft splits for gradient fine-tuning: sigmoid routing through compiled trees.

A hard split sends a row right when ``x > threshold``; its gradient with respect to the threshold
and to ``x`` is zero, so fine-tuning can move leaf values only. With soft splits a row goes right
with probability ``sigmoid((x - threshold - offset) / temperature)`` and reaches every leaf with
the product of its branch probabilities: the trainable ``offset`` moves thresholds, and gradients
flow through ``x`` into the layers below. As the temperature falls to 0 the routing becomes the
hard one; ``commit`` folds the offsets into the float32 thresholds, after which the module is an
ordinary hard-split ensemble again (same kernels, same checkpoint format, exact parity).

Every leaf is weighed, so the cost per row is ``n_trees * 2 ** depth``: meant for shallow
ensembles (CatBoost depth 6, XGBoost depth 5), not deep forests.
"""

import torch
from torch import nn

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, _bits, _sum_trees, pack_nodes, unpack_nodes
from pel_torch.errors import PelError

SOFT_KINDS = (PerfectTreeEnsemble, ObliviousEnsemble)
# Leaves weighed per row by one fold model: CatBoost's 500 trees of depth 6 need 32,000 and
# XGBoost's 400 of depth 5 need 12,800; LightGBM's depth 8 (102,400) and forests of depth 12
# (409,600 for 100 trees) would cost gigabytes per batch.
MAX_SOFT_LEAVES = 2 ** 16


def _thresholds(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(module, ObliviousEnsemble):
        return module.features, module.border_bits.view(torch.float32)
    return unpack_nodes(module.nodes)


class SoftSplits:
    """The soft-routing state of one tree module: a temperature and a threshold offset per split.

    Kept outside the module's parameters so checkpoints keep their format: ``commit`` moves the
    offsets into the module's thresholds before anything is evaluated or saved.
    """

    def __init__(self, module: nn.Module, temperature: float = 0.0):
        if not isinstance(module, SOFT_KINDS):
            raise TypeError(f"soft splits need a PerfectTreeEnsemble or ObliviousEnsemble, not {type(module).__name__}")
        self.module, self.temperature = module, float(temperature)
        self.offset = nn.Parameter(torch.zeros(_thresholds(module)[1].shape, dtype=torch.float64, device=module.leaf_values.device))

    def leaf_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_trees, 2 ** depth)``: the chance of each row reaching each leaf."""
        features, threshold = _thresholds(self.module)
        finite = torch.isfinite(threshold)
        # +inf thresholds pad shallower trees: never right, whatever the offset.
        # float32 inputs, as the hard splits compare them.
        margin = x.to(torch.float32).to(torch.float64)[:, features] - torch.where(finite, threshold.to(torch.float64) + self.offset, 0.0)
        right = torch.where(finite, torch.sigmoid(margin / self.temperature), 0.0)   # (batch, n_trees, n_splits)
        if isinstance(self.module, ObliviousEnsemble):
            return self._oblivious(right)
        return self._perfect(right)

    @staticmethod
    def _oblivious(right: torch.Tensor) -> torch.Tensor:
        # The leaf index is sum of bit_l << l: each level doubles the leaves as its higher bit.
        probability = right.new_ones(*right.shape[:2], 1)
        for level in range(right.shape[2]):
            p = right[:, :, level:level + 1]
            probability = torch.cat([probability * (1 - p), probability * p], dim=2)
        return probability

    @staticmethod
    def _perfect(right: torch.Tensor) -> torch.Tensor:
        # Heap order: level l holds nodes 2**l - 1 .. 2**(l+1) - 2 and node k's children are 2k+1, 2k+2,
        # so the next level's probabilities interleave (left, right) per node.
        probability = right.new_ones(*right.shape[:2], 1)
        depth = (right.shape[2] + 1).bit_length() - 1
        for level in range(depth):
            p = right[:, :, 2 ** level - 1:2 ** (level + 1) - 1]
            probability = torch.stack([probability * (1 - p), probability * p], dim=3).flatten(2)
        return probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The module's prediction ``(batch,)`` under soft routing."""
        module = self.module
        leaves = (self.leaf_probabilities(x) * module.leaf_values.to(torch.float64)).sum(dim=2)
        if isinstance(module, ObliviousEnsemble):
            return module.bias + module.scale * leaves.sum(dim=1)
        return _sum_trees(leaves, module.bias, module.scale, module.float32_sequential_sum)

    @torch.no_grad()
    def commit(self) -> None:
        """Fold the offsets into the module's float32 thresholds and zero them."""
        features, threshold = _thresholds(self.module)
        moved = (threshold.to(torch.float64) + self.offset).to(torch.float32)   # +inf stays +inf
        bits = _bits(moved.cpu().numpy()).to(threshold.device)
        if isinstance(self.module, ObliviousEnsemble):
            self.module.border_bits.copy_(bits)
        else:
            self.module.nodes.copy_(pack_nodes(features, bits))
        self.offset.zero_()


def attach_soft_splits(stack: nn.Module, learners: list[str], temperature: float = 0.0) -> list[SoftSplits]:
    """Soft routing for every fold of ``learners`` in the stack's last layer; the modules route
    softly while the temperature is above 0. The last layer only: its shallow boosters are cheap
    to soften, and its inputs are the lower layers' predictions, which then get gradients too."""
    layer = stack.layers[-1]
    unknown = sorted(set(learners) - set(layer.names))
    if unknown:
        raise PelError(f"finetune.soft_splits.learners: {', '.join(unknown)} not in the stack's last layer ({', '.join(layer.names)})")
    folds = [(name, fold) for name in learners for fold in layer.learners[layer.names.index(name)].folds]
    for name, fold in folds:  # all checked before any is softened
        leaves = fold.leaf_values.numel() if isinstance(fold, SOFT_KINDS) else None
        if leaves is None or leaves > MAX_SOFT_LEAVES:
            size = f"{leaves:,} leaves per fold model" if leaves else f"a {type(fold).__name__}"
            raise PelError(f"finetune.soft_splits.learners: {name} compiles to {size}; soft splits weigh every leaf, so they are "
                           f"limited to {MAX_SOFT_LEAVES:,}: choose shallow boosters such as catboost or xgboost")
    for _, fold in folds:
        fold.soft = SoftSplits(fold, temperature)
    return [fold.soft for _, fold in folds]


def detach_soft_splits(soft_splits: list[SoftSplits]) -> None:
    """Commit every offset and turn the modules back into plain hard-split ensembles."""
    for soft in soft_splits:
        soft.commit()
        soft.module.soft = None
