"""Tree ensembles as torch modules: exact replicas of the libraries' predictions, with trainable leaves.

Splits compare float32 inputs with float32 thresholds, as the libraries do, whatever the
module's dtype. Leaf values (``nn.Parameter``) follow the module's dtype, so ``module.double()``
reproduces float64 leaf values exactly; they are always summed in float64, as the libraries
sum them, because a stacked layer splits on these sums and float32 rounding would flip splits. Thresholds are stored as the int32
bit patterns of their float32 values, so ``module.to(dtype)`` can never round them.
Inputs must be finite: the featurizer guarantees it, so no NaN routing is implemented. How a module
traverses its trees is its ``kernel`` (``pel_torch.compile.kernels``), chosen once per module.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.compile.kernels import TORCH, pack_nodes, unpack_nodes
from pel_torch.compile.tree_arrays import ObliviousArrays, PerfectTreeArrays, TreeArrays, perfect_layout

# Complete trees deeper than this would pad to too many nodes (2 ** depth per tree): they keep
# the child-pointer layout of ``TreeEnsemble``.
MAX_PERFECT_DEPTH = 14


def _bits(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32).view(np.int32).copy())


def _columns_read(features: torch.Tensor) -> int:
    if features.numel() and int(features.min()) < 0:
        raise ValueError(f"tree nodes split on a negative input column ({int(features.min())}): the checkpoint is corrupt")
    return int(features.max()) + 1 if features.numel() else 0


def tree_module(arrays: TreeArrays) -> nn.Module:
    """The fastest exact kernel for ``arrays``: complete-tree traversal unless the trees are too deep."""
    if arrays.depth <= MAX_PERFECT_DEPTH:
        return PerfectTreeEnsemble.from_arrays(perfect_layout(arrays))
    return TreeEnsemble.from_arrays(arrays)


class TreeEnsemble(nn.Module):
    """Any forest of binary trees, traversed level by level through child pointers:
    ``(batch, n_features) -> (batch,)``. Slower than ``PerfectTreeEnsemble``; any depth."""

    def __init__(self, n_nodes: int, n_trees: int, depth: int, scale: float = 1.0, bias: float = 0.0,
                 float32_sequential_sum: bool = False):
        super().__init__()
        self.depth, self.scale = depth, scale
        self.float32_sequential_sum = float32_sequential_sum
        self.register_buffer("feature", torch.zeros(n_nodes, dtype=torch.int64))
        self.register_buffer("threshold_bits", torch.zeros(n_nodes, dtype=torch.int32))
        self.register_buffer("left", torch.zeros(n_nodes, dtype=torch.int64))
        self.register_buffer("right", torch.zeros(n_nodes, dtype=torch.int64))
        self.register_buffer("roots", torch.zeros(n_trees, dtype=torch.int64))
        self.value = nn.Parameter(torch.zeros(n_nodes, dtype=torch.float64))
        self.bias = nn.Parameter(torch.tensor(bias, dtype=torch.float64))
        self.kernel = TORCH      # set by ``pel_torch.inference.select_kernels``

    @classmethod
    def from_arrays(cls, arrays: TreeArrays) -> "TreeEnsemble":
        module = cls(len(arrays.feature), arrays.n_trees, arrays.depth, arrays.scale, arrays.bias,
                     arrays.float32_sequential_sum)
        with torch.no_grad():
            module.feature.copy_(torch.from_numpy(arrays.feature))
            module.threshold_bits.copy_(_bits(arrays.threshold))
            module.left.copy_(torch.from_numpy(arrays.left))
            module.right.copy_(torch.from_numpy(arrays.right))
            module.roots.copy_(torch.from_numpy(arrays.roots))
            module.value.copy_(torch.from_numpy(arrays.value))
        return module

    def spec(self) -> dict:
        return {"n_nodes": len(self.feature), "n_trees": len(self.roots), "depth": self.depth,
                "scale": self.scale, "float32_sequential_sum": self.float32_sequential_sum}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernel.pointer(self, x)


class PerfectTreeEnsemble(nn.Module):
    """Trees padded to one depth (``PerfectTreeArrays``): per level one gather of the packed node and
    one of the input, children by arithmetic. ``(batch, n_features) -> (batch,)``."""

    def __init__(self, n_trees: int, depth: int, scale: float = 1.0, bias: float = 0.0, float32_sequential_sum: bool = False):
        super().__init__()
        self.depth, self.scale, self.float32_sequential_sum = depth, scale, float32_sequential_sum
        n_internal = 2 ** depth - 1
        # feature << 32 | float32 bits of the threshold: one gather per level fetches both.
        self.register_buffer("nodes", torch.zeros(n_trees, n_internal, dtype=torch.int64))
        self.register_buffer("node_offsets", torch.arange(n_trees, dtype=torch.int64) * n_internal, persistent=False)
        self.register_buffer("leaf_offsets", torch.arange(n_trees, dtype=torch.int64) * 2 ** depth - n_internal, persistent=False)
        self.leaf_values = nn.Parameter(torch.zeros(n_trees, 2 ** depth, dtype=torch.float64))
        self.bias = nn.Parameter(torch.tensor(bias, dtype=torch.float64))
        self.kernel = TORCH      # set by ``pel_torch.inference.select_kernels``
        self._n_inputs_read = self._tree_levels = None

    @classmethod
    def from_arrays(cls, arrays: PerfectTreeArrays) -> "PerfectTreeEnsemble":
        n_trees, n_internal = arrays.feature.shape
        module = cls(n_trees, (n_internal + 1).bit_length() - 1, arrays.scale, arrays.bias, arrays.float32_sequential_sum)
        with torch.no_grad():
            module.nodes.copy_(pack_nodes(torch.from_numpy(arrays.feature), _bits(arrays.threshold)))
            module.leaf_values.copy_(torch.from_numpy(arrays.leaf_values))
        return module

    def spec(self) -> dict:
        return {"n_trees": len(self.nodes), "depth": self.depth, "scale": self.scale,
                "float32_sequential_sum": self.float32_sequential_sum}

    def n_inputs_read(self) -> int:
        """1 + the largest input column any split reads (computed once; the nodes never change)."""
        if self._n_inputs_read is None:
            self._n_inputs_read = _columns_read(self.nodes >> 32)
        return self._n_inputs_read

    def tree_levels(self) -> torch.Tensor:
        """(n_trees,) int64: per tree, 1 + the deepest level holding a node that can send a row right.
        Below it every node is padding (threshold +inf: always left), so the C++ kernel stops there."""
        if self._tree_levels is None:
            threshold = unpack_nodes(self.nodes.cpu())[1]
            level = torch.repeat_interleave(torch.arange(self.depth), 2 ** torch.arange(self.depth))
            # x > threshold is false for every finite x when the threshold is +inf or NaN.
            can_go_right = threshold < float("inf")
            self._tree_levels = torch.where(can_go_right, level + 1, 0).amax(dim=1).contiguous()
        return self._tree_levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernel.perfect(self, x)


class ObliviousEnsemble(nn.Module):
    """CatBoost's symmetric trees: one comparison per level, the leaf index is the bit pattern."""

    def __init__(self, n_trees: int, depth: int, scale: float = 1.0, bias: float = 0.0):
        super().__init__()
        self.scale = scale
        self.register_buffer("features", torch.zeros(n_trees, depth, dtype=torch.int64))
        self.register_buffer("border_bits", torch.zeros(n_trees, depth, dtype=torch.int32))
        self.register_buffer("powers", 2 ** torch.arange(depth, dtype=torch.int64))
        self.register_buffer("offsets", torch.arange(n_trees, dtype=torch.int64) * 2 ** depth)
        self.leaf_values = nn.Parameter(torch.zeros(n_trees, 2 ** depth, dtype=torch.float64))
        self.bias = nn.Parameter(torch.tensor(bias, dtype=torch.float64))
        self.kernel = TORCH      # set by ``pel_torch.inference.select_kernels``
        self._n_inputs_read = None

    @classmethod
    def from_arrays(cls, arrays: ObliviousArrays) -> "ObliviousEnsemble":
        n_trees, depth = arrays.features.shape
        module = cls(n_trees, depth, arrays.scale, arrays.bias)
        with torch.no_grad():
            module.features.copy_(torch.from_numpy(arrays.features))
            module.border_bits.copy_(_bits(arrays.borders))
            module.leaf_values.copy_(torch.from_numpy(arrays.leaf_values))
        return module

    def spec(self) -> dict:
        n_trees, depth = self.features.shape
        return {"n_trees": n_trees, "depth": depth, "scale": self.scale}

    def n_inputs_read(self) -> int:
        """1 + the largest input column any split reads (computed once; the features never change)."""
        if self._n_inputs_read is None:
            self._n_inputs_read = _columns_read(self.features)
        return self._n_inputs_read

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernel.oblivious(self, x)
