"""Tree ensembles as torch modules: exact replicas of the libraries' predictions, with trainable leaves.

Splits compare float32 inputs with float32 thresholds, as the libraries do, whatever the
module's dtype. Leaf values (``nn.Parameter``) follow the module's dtype, so ``module.double()``
reproduces float64 leaf values exactly; they are always summed in float64, as the libraries
sum them, because a stacked layer splits on these sums and float32 rounding would flip splits. Thresholds are stored as the int32
bit patterns of their float32 values, so ``module.to(dtype)`` can never round them.
Inputs must be finite: the featurizer guarantees it, so no NaN routing is implemented.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.compile.cpu_kernels import tree_kernels
from pel_torch.compile.tree_arrays import ObliviousArrays, PerfectTreeArrays, TreeArrays, perfect_layout

# Complete trees deeper than this would pad to too many nodes (2 ** depth per tree): they keep
# the child-pointer layout of ``TreeEnsemble``.
MAX_PERFECT_DEPTH = 14


def _bits(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32).view(np.int32).copy())


def pack_nodes(features: torch.Tensor, threshold_bits: torch.Tensor) -> torch.Tensor:
    """``feature << 32 | float32 bits of the threshold``: one int64 per node, one gather fetches both."""
    return features << 32 | (threshold_bits.to(torch.int64) & 0xFFFFFFFF)


def unpack_nodes(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed nodes -> (feature int64, float32 threshold)."""
    low = packed & 0xFFFFFFFF
    return packed >> 32, (low - ((low >> 31) << 32)).to(torch.int32).view(torch.float32)  # sign-extend, then reinterpret


def _use_cpp(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether to traverse with the C++ kernel: switched on (``use_cpp_kernels``), on the CPU, and
    not inside torch.compile / torch.export tracing, which must see plain torch ops."""
    if not (module.cpp_kernel and x.device.type == "cpu" and not torch.compiler.is_compiling()):
        return False
    # The C++ loop reads x[row, feature] unchecked: a module (or checkpoint) wider than its input
    # must fail here, as torch's gather would, not read past the row.
    if x.shape[1] < module.n_inputs_read():
        raise ValueError(f"{type(module).__name__} splits on input column {module.n_inputs_read() - 1}, but the input has {x.shape[1]} columns")
    return True


def _soft(module: nn.Module) -> bool:
    return module.soft is not None and module.soft.temperature > 0


def _columns_read(features: torch.Tensor) -> int:
    if features.numel() and int(features.min()) < 0:
        raise ValueError(f"tree nodes split on a negative input column ({int(features.min())}): the checkpoint is corrupt")
    return int(features.max()) + 1 if features.numel() else 0


def _needs_leaf_gradients(module: nn.Module) -> bool:
    return torch.is_grad_enabled() and module.leaf_values.requires_grad


def _float64_leaves(module: nn.Module) -> torch.Tensor:
    return module.leaf_values.detach().to(torch.float64).contiguous()


def _sum_trees(leaves: torch.Tensor, bias: torch.Tensor, scale: float, float32_sequential_sum: bool) -> torch.Tensor:
    """``(batch, n_trees)`` leaf values -> ``(batch,)`` predictions, summed as the library sums them."""
    if float32_sequential_sum:
        # XGBoost adds tree after tree to base_score in float32; any other order rounds differently.
        total = bias.to(torch.float32).expand(leaves.shape[0])
        for column in leaves.to(torch.float32).unbind(dim=1):
            total = total + column
        return total
    return bias + scale * leaves.sum(dim=1, dtype=torch.float64)


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
        x32 = x.to(torch.float32)
        threshold = self.threshold_bits.view(torch.float32)
        node = self.roots.expand(x.shape[0], -1)                       # (batch, n_trees)
        for _ in range(self.depth):
            go_left = x32.gather(1, self.feature[node]) <= threshold[node]
            node = torch.where(go_left, self.left[node], self.right[node])
        return _sum_trees(self.value[node], self.bias, self.scale, self.float32_sequential_sum)


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
        self.cpp_kernel = False  # set by ``pel_torch.inference.use_cpp_kernels``
        self.compiled = False    # set by ``pel_torch.inference.compile_trees``
        self.soft = None         # a ``SoftSplits`` while fine-tuning with soft splits
        self._n_inputs_read = None

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _soft(self):
            return self.soft.forward(x)
        x32 = x.to(torch.float32)
        if _use_cpp(self, x):
            x32 = x32.contiguous()
            if _needs_leaf_gradients(self):
                index = tree_kernels().perfect_tree_leaves(x32, self.nodes, self.depth)
                return _sum_trees(self.leaf_values.reshape(-1)[index], self.bias, self.scale, self.float32_sequential_sum)
            if self.float32_sequential_sum:
                start = float(self.bias.to(torch.float32))
                return tree_kernels().perfect_tree_sum(x32, self.nodes, self.depth, _float64_leaves(self), start, True).to(torch.float32)
            return self.bias + self.scale * tree_kernels().perfect_tree_sum(x32, self.nodes, self.depth, _float64_leaves(self), 0.0, False)
        nodes = self.nodes.reshape(-1)
        node = self.node_offsets.new_zeros(x.shape[0], len(self.node_offsets))   # (batch, n_trees), index within the tree
        for _ in range(self.depth):
            feature, threshold = unpack_nodes(nodes[node + self.node_offsets])
            go_right = x32.gather(1, feature) > threshold
            node = 2 * node + 1 + go_right
        leaves = self.leaf_values.reshape(-1)[node + self.leaf_offsets]
        return _sum_trees(leaves, self.bias, self.scale, self.float32_sequential_sum)


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
        self.cpp_kernel = False  # set by ``pel_torch.inference.use_cpp_kernels``
        self.compiled = False    # set by ``pel_torch.inference.compile_trees``
        self.soft = None         # a ``SoftSplits`` while fine-tuning with soft splits
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
        if _soft(self):
            return self.soft.forward(x)
        x32 = x.to(torch.float32)
        if _use_cpp(self, x):
            x32 = x32.contiguous()
            if not _needs_leaf_gradients(self):
                return self.bias + self.scale * tree_kernels().oblivious_tree_sum(x32, self.features, self.border_bits, _float64_leaves(self))
            index = tree_kernels().oblivious_tree_leaves(x32, self.features, self.border_bits)
        elif torch.compiler.is_compiling():
            # Inductor fuses the gather, compare and bit sum into one loop (~4x the eager path below).
            bits = x32[:, self.features] > self.border_bits.view(torch.float32)      # (batch, n_trees, depth)
            index = (bits * self.powers).sum(dim=2) + self.offsets
        else:
            # Eager: whole columns, level by level, avoid a (batch, n_trees, depth) int64 product.
            n_trees, depth = self.features.shape
            bits = x32.index_select(1, self.features.t().reshape(-1)) > self.border_bits.t().reshape(1, -1).view(torch.float32)
            bits = bits.view(x.shape[0], depth, n_trees)
            index = self.offsets.expand(x.shape[0], n_trees).clone()                  # (batch, n_trees)
            for level in range(depth):
                index += bits[:, level].to(torch.int64) << level
        leaves = self.leaf_values.reshape(-1)[index]
        return self.bias + self.scale * leaves.sum(dim=1, dtype=torch.float64)
