"""XGBoost 3.x boosters -> TreeArrays, from the JSON model (decision ``x < t`` on float32 thresholds).

Hummingbird 0.4.12 fails on XGBoost 3.x because ``base_score`` is now saved as a vector string
such as ``'[1.40E0]'``; we parse it as the vector it is.
"""

import json

import numpy as np

from pel_torch.compile.tree_arrays import TreeArrays, concatenate_trees, float32_below, tree_depth

IDENTITY_OBJECTIVES = frozenset({"reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror"})


def parse_xgboost(booster) -> TreeArrays:
    """A fitted ``xgboost.Booster`` (gbtree, single target, identity link)."""
    learner = json.loads(booster.save_raw("json"))["learner"]
    objective = learner["objective"]["name"]
    if objective not in IDENTITY_OBJECTIVES:
        raise ValueError(f"XGBoost objective {objective!r} has a link function; only {sorted(IDENTITY_OBJECTIVES)} compile")
    booster_model = learner["gradient_booster"]
    if booster_model["name"] != "gbtree":
        raise ValueError(f"XGBoost booster {booster_model['name']!r} is not supported; use gbtree")
    trees, depth = [], 0
    for tree in booster_model["model"]["trees"]:
        if any(tree["split_type"]):
            raise ValueError("categorical XGBoost splits are not supported")
        left, right = np.array(tree["left_children"]), np.array(tree["right_children"])
        conditions = np.array(tree["split_conditions"], dtype=np.float32)  # leaf values live here at leaves
        trees.append({"feature": np.array(tree["split_indices"]), "threshold": float32_below(conditions),
                      "left": left, "right": right, "value": conditions.astype(np.float64)})
        depth = max(depth, tree_depth(left, right))
    return concatenate_trees(trees, depth, bias=base_score(learner), float32_sequential_sum=True)


def base_score(learner: dict) -> float:
    """The intercept, saved as ``'0.5'`` by XGBoost 1.x/2.x and as ``'[5E-1]'`` by 3.x."""
    values = np.atleast_1d(np.asarray(json.loads(learner["learner_model_param"]["base_score"].replace("E", "e")), dtype=np.float32))
    if values.size != 1:
        raise ValueError(f"XGBoost model has {values.size} base scores; only single-target models compile")
    return float(values[0])
