"""Test R2 of the RandomForest learner alone on box office with 100 vs 200 trees (3 seeds per split).

    python benchmarks/forest_size.py

Why the default is 100 trees: the forest was the stack's largest fit and inference cost.
"""

import logging

import numpy as np

from common import config
from pel_torch.features.targets import TargetScale
from pel_torch.learners import make_learner
from pel_torch.pipeline import prepare
from pel_torch.stages import regression_metrics

logging.disable(logging.INFO)
print("| split | trees | test R2 per seed | mean |\n|---|---:|---|---:|")
for split in ("temporal", "random"):
    for trees in (100, 200):
        scores = []
        for seed in range(3):
            prepared = prepare(config([f"split={split}", "threads=2", f"seed={seed}"]))
            scale = TargetScale.fit(prepared.films, "revenue", prepared.split.train)
            y = scale.encode(prepared.films)
            train, test = prepared.split.train, prepared.split.test
            forest = make_learner("random_forest", {"n_estimators": trees}, seed=seed, threads=2).fit(prepared.features[train], y[train])
            scores.append(regression_metrics(y[test], forest.predict(prepared.features[test]))["r2"])
        print(f"| {split} | {trees} | {' / '.join(f'{s:.3f}' for s in scores)} | {np.mean(scores):.3f} |")
