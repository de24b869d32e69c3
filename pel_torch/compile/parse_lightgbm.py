"""LightGBM boosters -> TreeArrays, from ``dump_model()`` (decision ``<=`` on float64 thresholds)."""

import numpy as np

from pel_torch.compile.tree_arrays import TreeArrays, concatenate_trees, float32_at_most


def parse_lightgbm(booster) -> TreeArrays:
    """A fitted ``lightgbm.Booster`` of a single-output regression; the prediction is the sum of leaves."""
    model = booster.dump_model()
    if model["num_tree_per_iteration"] != 1:
        raise ValueError("only single-output LightGBM models can be compiled")
    trees, depth = [], 0
    for info in model["tree_info"]:
        tree = _flatten(info["tree_structure"])
        depth = max(depth, tree.pop("depth"))
        trees.append(tree)
    return concatenate_trees(trees, depth)


def _flatten(root: dict) -> dict:
    feature, threshold, left, right, value = [], [], [], [], []
    depth, stack = 0, [(root, 0, None, None)]
    while stack:
        node, level, parent, side = stack.pop()
        index = len(feature)
        if parent is not None:
            (left if side == "left" else right)[parent] = index
        depth = max(depth, level)
        if "leaf_value" in node:
            feature.append(0); threshold.append(np.inf); left.append(-1); right.append(-1); value.append(node["leaf_value"])
            continue
        if node["decision_type"] != "<=" or node.get("missing_type", "None") == "Zero":
            raise ValueError(f"LightGBM split {node['decision_type']!r} / missing_type {node.get('missing_type')!r} "
                             "is not supported; train on numeric features without zero_as_missing")
        feature.append(node["split_feature"]); threshold.append(node["threshold"]); left.append(-1); right.append(-1); value.append(0.0)
        stack.append((node["right_child"], level + 1, index, "right"))
        stack.append((node["left_child"], level + 1, index, "left"))
    return {"feature": np.array(feature), "threshold": float32_at_most(np.array(threshold, dtype=np.float64)),
            "left": np.array(left), "right": np.array(right), "value": np.array(value, dtype=np.float64), "depth": depth}
