"""Library-neutral arrays for fitted tree ensembles: what every parser produces and every kernel consumes.

All split rules are normalised to one convention, *go left when ``float32(x) <= threshold``*,
with float32 thresholds chosen so the comparison is exactly the library's own:
- ``x <= t`` with a float64 ``t`` (scikit-learn, LightGBM): threshold = largest float32 <= t;
- ``x < t`` with a float32 ``t`` (XGBoost): threshold = the float32 just below t.
Oblivious (CatBoost) trees keep their own convention, bit = ``float32(x) > border``.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class TreeArrays:
    """A forest flattened into one node table; leaves point to themselves and always go "left".

    Prediction: ``bias + scale * sum over trees of value[leaf reached]``.
    """

    feature: np.ndarray    # (n_nodes,) int64 input column tested at the node
    threshold: np.ndarray  # (n_nodes,) float32, go left when x <= threshold; +inf at leaves
    left: np.ndarray       # (n_nodes,) int64 global index of the left child (self at leaves)
    right: np.ndarray      # (n_nodes,) int64
    value: np.ndarray      # (n_nodes,) float64 leaf values (0 at internal nodes)
    roots: np.ndarray      # (n_trees,) int64 global index of each tree's root
    depth: int             # longest root-to-leaf path
    scale: float = 1.0
    bias: float = 0.0
    float32_sequential_sum: bool = False  # XGBoost's arithmetic, instead of a float64 sum

    @property
    def n_trees(self) -> int:
        return len(self.roots)


@dataclass
class ObliviousArrays:
    """Symmetric trees: one (feature, border) per level, leaf index = sum of bit_l << l."""

    features: np.ndarray     # (n_trees, depth) int64
    borders: np.ndarray      # (n_trees, depth) float32, bit = x > border; +inf pads shallower trees
    leaf_values: np.ndarray  # (n_trees, 2 ** depth) float64
    scale: float = 1.0
    bias: float = 0.0


def float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold, so ``x32 <= t64`` iff ``x32 <= result``."""
    rounded = np.asarray(threshold, dtype=np.float64).astype(np.float32)
    too_big = rounded.astype(np.float64) > threshold
    return np.where(too_big, np.nextafter(rounded, np.float32(-np.inf)), rounded).astype(np.float32)


def float32_below(threshold: np.ndarray) -> np.ndarray:
    """For float32 ``t``: the float32 just below it, so ``x32 < t`` iff ``x32 <= result``."""
    return np.nextafter(np.asarray(threshold, dtype=np.float32), np.float32(-np.inf))


def concatenate_trees(trees: list[dict], depth: int, scale: float = 1.0, bias: float = 0.0, **options) -> TreeArrays:
    """Join per-tree node tables (local child indices, -1 at leaves) into one ``TreeArrays``."""
    offsets = np.cumsum([0] + [len(t["feature"]) for t in trees])
    parts = {key: [] for key in ("feature", "threshold", "left", "right", "value")}
    for offset, tree in zip(offsets, trees):
        leaf = np.asarray(tree["left"]) < 0
        own = np.arange(len(leaf), dtype=np.int64) + offset
        parts["feature"].append(np.where(leaf, 0, tree["feature"]).astype(np.int64))
        parts["threshold"].append(np.where(leaf, np.float32(np.inf), tree["threshold"]).astype(np.float32))
        parts["left"].append(np.where(leaf, own, np.asarray(tree["left"]) + offset).astype(np.int64))
        parts["right"].append(np.where(leaf, own, np.asarray(tree["right"]) + offset).astype(np.int64))
        parts["value"].append(np.where(leaf, tree["value"], 0.0).astype(np.float64))
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    return TreeArrays(**arrays, roots=offsets[:-1].astype(np.int64), depth=int(depth), scale=float(scale), bias=float(bias), **options)


def tree_depth(left: np.ndarray, right: np.ndarray) -> int:
    """Longest root-to-leaf path of one tree given local child arrays (-1 at leaves)."""
    depth, frontier = 0, [0]
    while True:
        children = [c for node in frontier for c in (left[node], right[node]) if c >= 0]
        if not children:
            return depth
        depth, frontier = depth + 1, children


@dataclass
class PerfectTreeArrays:
    """A forest padded to complete binary trees of one depth: children are found by arithmetic.

    Node ``i`` of a tree has children ``2i + 1`` (left) and ``2i + 2``; after ``depth`` steps the
    node index minus ``2 ** depth - 1`` is the leaf slot. A leaf reached early is padded below with
    never-taken splits (``threshold = +inf``: always left), so it lands in its leftmost slot;
    the other slots are unreachable and hold 0.
    """

    feature: np.ndarray      # (n_trees, 2 ** depth - 1) int64
    threshold: np.ndarray    # (n_trees, 2 ** depth - 1) float32, go left when x <= threshold
    leaf_values: np.ndarray  # (n_trees, 2 ** depth) float64
    scale: float = 1.0
    bias: float = 0.0
    float32_sequential_sum: bool = False


def perfect_layout(arrays: TreeArrays) -> PerfectTreeArrays:
    """``arrays`` padded to complete trees of depth ``arrays.depth`` (at least 1)."""
    depth, n_trees = max(arrays.depth, 1), arrays.n_trees
    n_internal = 2 ** depth - 1
    feature = np.zeros((n_trees, n_internal), dtype=np.int64)
    threshold = np.full((n_trees, n_internal), np.inf, dtype=np.float32)
    leaf_values = np.zeros((n_trees, 2 ** depth), dtype=np.float64)
    trees = np.arange(n_trees)
    node, position = arrays.roots.copy(), np.zeros(n_trees, dtype=np.int64)
    for level in range(depth + 1):
        is_leaf = arrays.left[node] == node
        # A leaf at this level lands in its leftmost slot at the bottom: position -> 2p + 1, depth - level times.
        slot = (position[is_leaf] + 1) * 2 ** (depth - level) - 1 - n_internal
        leaf_values[trees[is_leaf], slot] = arrays.value[node[is_leaf]]
        inner = ~is_leaf
        if level == depth:
            assert not inner.any(), "a tree is deeper than arrays.depth"
            break
        trees, node, position = trees[inner], node[inner], position[inner]
        feature[trees, position] = arrays.feature[node]
        threshold[trees, position] = arrays.threshold[node]
        trees = np.concatenate([trees, trees])
        node = np.concatenate([arrays.left[node], arrays.right[node]])
        position = np.concatenate([2 * position + 1, 2 * position + 2])
    return PerfectTreeArrays(feature, threshold, leaf_values, arrays.scale, arrays.bias, arrays.float32_sequential_sum)
