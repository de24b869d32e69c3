"""scikit-learn RandomForest / ExtraTrees regressors -> TreeArrays (go left when x <= threshold)."""

from pel_torch.compile.tree_arrays import TreeArrays, concatenate_trees, float32_at_most, tree_depth


def parse_forest(forest) -> TreeArrays:
    """A fitted ``RandomForestRegressor`` / ``ExtraTreesRegressor``: the mean of its trees."""
    trees, depth = [], 0
    for estimator in forest.estimators_:
        t = estimator.tree_
        if t.value.shape[1] != 1:
            raise ValueError("only single-output forests can be compiled")
        trees.append({"feature": t.feature, "threshold": float32_at_most(t.threshold), "left": t.children_left,
                      "right": t.children_right, "value": t.value[:, 0, 0]})
        depth = max(depth, tree_depth(t.children_left, t.children_right))
    return concatenate_trees(trees, depth, scale=1.0 / len(trees))
