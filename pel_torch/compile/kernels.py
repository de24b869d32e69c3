"""How a tree module turns inputs into its prediction: kernel objects, picked once per module.

Every kernel computes the same splits and the same sums (``tests/test_cpp_kernels.py``):
- ``TORCH``: plain torch ops, on any device; what ``torch.export`` traces.
- ``CPP``: the C++ traversal of ``tree_kernels.cpp`` on CPU inputs, several times faster. Without
  gradients it also sums the leaves; with them it returns leaf indices and torch gathers the
  ``leaf_values`` parameter, so gradients are the torch kernel's.
- ``COMPILED``: torch ops shaped for ``torch.compile`` (Inductor fuses an oblivious tree's gather,
  comparison and bit sum into one loop, about 4x the eager formulation).

``pel_torch.inference.select_kernels`` sets ``module.kernel`` on every tree module of a model;
a module's ``forward`` calls its slot of the kernel and never branches on flags.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pel_torch.compile.cpu_kernels import tree_kernels


def pack_nodes(features: torch.Tensor, threshold_bits: torch.Tensor) -> torch.Tensor:
    """``feature << 32 | float32 bits of the threshold``: one int64 per node, one gather fetches both."""
    return features << 32 | (threshold_bits.to(torch.int64) & 0xFFFFFFFF)


def unpack_nodes(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed nodes -> (feature int64, float32 threshold)."""
    low = packed & 0xFFFFFFFF
    return packed >> 32, (low - ((low >> 31) << 32)).to(torch.int32).view(torch.float32)  # sign-extend, then reinterpret


def sum_trees(leaves: torch.Tensor, bias: torch.Tensor, scale: float, float32_sequential_sum: bool) -> torch.Tensor:
    """``(batch, n_trees)`` leaf values -> ``(batch,)`` predictions, summed as the library sums them."""
    if float32_sequential_sum:
        # XGBoost adds tree after tree to base_score in float32; any other order rounds differently.
        total = bias.to(torch.float32).expand(leaves.shape[0])
        for column in leaves.to(torch.float32).unbind(dim=1):
            total = total + column
        return total
    return bias + scale * leaves.sum(dim=1, dtype=torch.float64)


def _needs_leaf_gradients(module) -> bool:
    return torch.is_grad_enabled() and module.leaf_values.requires_grad


def _float64_leaves(module) -> torch.Tensor:
    return module.leaf_values.detach().to(torch.float64).contiguous()


def _cpp_input(module, x: torch.Tensor) -> torch.Tensor:
    # The C++ loop reads x[row, feature] unchecked: a module (or checkpoint) wider than its input
    # must fail here, as torch's gather would, not read past the row.
    if x.shape[1] < module.n_inputs_read():
        raise ValueError(f"{type(module).__name__} splits on input column {module.n_inputs_read() - 1}, but the input has {x.shape[1]} columns")
    return x.to(torch.float32).contiguous()


def pointer_torch(module, x: torch.Tensor) -> torch.Tensor:
    """``TreeEnsemble``: level by level through child pointers."""
    x32 = x.to(torch.float32)
    threshold = module.threshold_bits.view(torch.float32)
    node = module.roots.expand(x.shape[0], -1)                       # (batch, n_trees)
    for _ in range(module.depth):
        go_left = x32.gather(1, module.feature[node]) <= threshold[node]
        node = torch.where(go_left, module.left[node], module.right[node])
    return sum_trees(module.value[node], module.bias, module.scale, module.float32_sequential_sum)


def perfect_torch(module, x: torch.Tensor) -> torch.Tensor:
    """``PerfectTreeEnsemble``: per level one gather of the packed node and one of the input."""
    x32 = x.to(torch.float32)
    nodes = module.nodes.reshape(-1)
    node = module.node_offsets.new_zeros(x.shape[0], len(module.node_offsets))   # (batch, n_trees), index within the tree
    for _ in range(module.depth):
        feature, threshold = unpack_nodes(nodes[node + module.node_offsets])
        go_right = x32.gather(1, feature) > threshold
        node = 2 * node + 1 + go_right
    leaves = module.leaf_values.reshape(-1)[node + module.leaf_offsets]
    return sum_trees(leaves, module.bias, module.scale, module.float32_sequential_sum)


def perfect_cpp(module, x: torch.Tensor) -> torch.Tensor:
    x32 = _cpp_input(module, x)
    if _needs_leaf_gradients(module):
        index = tree_kernels().perfect_tree_leaves(x32, module.nodes, module.depth, module.tree_levels())
        return sum_trees(module.leaf_values.reshape(-1)[index], module.bias, module.scale, module.float32_sequential_sum)
    if module.float32_sequential_sum:
        start = float(module.bias.to(torch.float32))
        return tree_kernels().perfect_tree_sum(x32, module.nodes, module.depth, module.tree_levels(), _float64_leaves(module),
                                               start, True).to(torch.float32)
    return module.bias + module.scale * tree_kernels().perfect_tree_sum(x32, module.nodes, module.depth, module.tree_levels(),
                                                                        _float64_leaves(module), 0.0, False)


def oblivious_torch(module, x: torch.Tensor) -> torch.Tensor:
    """``ObliviousEnsemble``, eager: whole columns, level by level, avoiding a (batch, n_trees, depth) int64 product."""
    x32 = x.to(torch.float32)
    n_trees, depth = module.features.shape
    bits = x32.index_select(1, module.features.t().reshape(-1)) > module.border_bits.t().reshape(1, -1).view(torch.float32)
    bits = bits.view(x.shape[0], depth, n_trees)
    index = module.offsets.expand(x.shape[0], n_trees).clone()                  # (batch, n_trees)
    for level in range(depth):
        index += bits[:, level].to(torch.int64) << level
    return _oblivious_sum(module, index)


def oblivious_fused(module, x: torch.Tensor) -> torch.Tensor:
    """``ObliviousEnsemble`` for ``torch.compile``: one gather, comparison and bit sum that Inductor fuses."""
    bits = x.to(torch.float32)[:, module.features] > module.border_bits.view(torch.float32)      # (batch, n_trees, depth)
    return _oblivious_sum(module, (bits * module.powers).sum(dim=2) + module.offsets)


def oblivious_cpp(module, x: torch.Tensor) -> torch.Tensor:
    x32 = _cpp_input(module, x)
    if not _needs_leaf_gradients(module):
        return module.bias + module.scale * tree_kernels().oblivious_tree_sum(x32, module.features, module.border_bits, _float64_leaves(module))
    return _oblivious_sum(module, tree_kernels().oblivious_tree_leaves(x32, module.features, module.border_bits))


def _oblivious_sum(module, index: torch.Tensor) -> torch.Tensor:
    leaves = module.leaf_values.reshape(-1)[index]
    return module.bias + module.scale * leaves.sum(dim=1, dtype=torch.float64)


@dataclass(frozen=True)
class Kernel:
    """One implementation per kind of tree module. ``large_batches``: it runs best on 8,192-row
    batches (C++, compiled); the eager torch kernels keep per-level index tensors in cache at 1,024."""

    name: str
    large_batches: bool
    pointer: Callable
    perfect: Callable
    oblivious: Callable


TORCH = Kernel("torch", False, pointer_torch, perfect_torch, oblivious_torch)
CPP = Kernel("cpp", True, pointer_torch, perfect_cpp, oblivious_cpp)
COMPILED = Kernel("compiled", True, pointer_torch, perfect_torch, oblivious_fused)
