"""Thin wrappers over the tree libraries, with defaults for a few thousand rows and ~100 features.

Depths are capped on purpose: the compiled traversal costs one gather per level, and the
defaults were chosen for small data, not to fit noise.
"""

import catboost
import lightgbm
import xgboost
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

from pel_torch.learners.base import Learner


class RandomForestLearner(Learner):
    # 100 trees: the stack averages 5 fold forests (500 trees) anyway, and 200 doubled the stack's
    # largest fit and inference cost for +0.001-0.002 test R2 alone (benchmarks/forest_size.py).
    name = "random_forest"
    estimator = RandomForestRegressor
    DEFAULTS = {"n_estimators": 100, "max_depth": 12, "min_samples_leaf": 3, "max_features": 0.5}

    def _fit(self, X, y):
        self.model_ = self.estimator(**self.settings, n_jobs=self.threads, random_state=self.seed).fit(X, y)
        # Predict on one thread: with several, scikit-learn adds the trees up in the order its threads
        # finish, so the last bits of a prediction change from call to call (measured: 30 of 30 calls
        # differed, by up to 2e-15), and a layer-2 tree splitting on them can go the other way.
        self.model_.set_params(n_jobs=1)
        return self


class ExtraTreesLearner(RandomForestLearner):
    name = "extra_trees"
    estimator = ExtraTreesRegressor
    DEFAULTS = {"n_estimators": 200, "max_depth": 14, "min_samples_leaf": 3, "max_features": 0.7}


class LightGBMLearner(Learner):
    name = "lightgbm"
    DEFAULTS = {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 15, "max_depth": 8, "min_child_samples": 20,
                "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.7, "reg_lambda": 1.0}

    def _fit(self, X, y):
        self.model_ = lightgbm.LGBMRegressor(**self.settings, n_jobs=self.threads, random_state=self.seed,
                                             deterministic=True, force_row_wise=True, verbose=-1).fit(X, y)
        return self


class XGBoostLearner(Learner):
    name = "xgboost"
    DEFAULTS = {"n_estimators": 400, "learning_rate": 0.03, "max_depth": 5, "min_child_weight": 3.0,
                "subsample": 0.8, "colsample_bytree": 0.7, "reg_lambda": 1.0}

    def _fit(self, X, y):
        self.model_ = xgboost.XGBRegressor(**self.settings, tree_method="hist", n_jobs=self.threads,
                                           random_state=self.seed).fit(X, y)
        return self


class CatBoostLearner(Learner):
    name = "catboost"
    DEFAULTS = {"iterations": 500, "learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 3.0}

    def _fit(self, X, y):
        self.model_ = catboost.CatBoostRegressor(**self.settings, random_seed=self.seed, thread_count=self.threads,
                                                 verbose=0, allow_writing_files=False).fit(X, y)
        return self
