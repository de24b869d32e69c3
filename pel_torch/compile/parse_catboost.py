"""CatBoost regressors -> ObliviousArrays, from CatBoost's JSON export.

Hummingbird has no CatBoost converter, and CatBoost's ONNX export drops the bias (its
``scale_and_bias``); the JSON export holds everything: per-level float borders, leaf values
and ``scale_and_bias``.
"""

import json
import os
import tempfile

import numpy as np

from pel_torch.compile.tree_arrays import ObliviousArrays


def parse_catboost(model) -> ObliviousArrays:
    """A fitted ``CatBoostRegressor`` on numeric features (no categorical or text features)."""
    spec = _export_json(model)
    flat_index = [info["flat_feature_index"] for info in spec["features_info"].get("float_features", [])]
    if spec["features_info"].get("categorical_features"):
        raise ValueError("CatBoost models with categorical features are not supported; encode them numerically")
    trees = spec["oblivious_trees"]
    depth = max(len(tree["splits"]) for tree in trees)
    features = np.zeros((len(trees), depth), dtype=np.int64)
    borders = np.full((len(trees), depth), np.inf, dtype=np.float32)
    leaf_values = np.zeros((len(trees), 2 ** depth), dtype=np.float64)
    for t, tree in enumerate(trees):
        for level, split in enumerate(tree["splits"]):
            if split["split_type"] != "FloatFeature":
                raise ValueError(f"CatBoost split type {split['split_type']!r} is not supported")
            features[t, level] = flat_index[split["float_feature_index"]]
            borders[t, level] = split["border"]
        values = np.asarray(tree["leaf_values"], dtype=np.float64)
        # A shallower tree never sets its upper bits (border +inf), so its leaves fill the low indices.
        leaf_values[t, :len(values)] = values
    scale, biases = spec["scale_and_bias"]
    bias = np.atleast_1d(biases)
    if bias.size != 1:
        raise ValueError("only single-output CatBoost models compile")
    return ObliviousArrays(features, borders, leaf_values, scale=float(scale), bias=float(bias[0]))


def _export_json(model) -> dict:
    handle, path = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    try:
        model.save_model(path, format="json")
        with open(path) as file:
            return json.load(file)
    finally:
        os.remove(path)
