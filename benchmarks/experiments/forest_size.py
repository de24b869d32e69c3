"""Test R2 of the RandomForest learner alone on box office with 100 vs 200 trees (3 seeds per split).

    python benchmarks/experiments/forest_size.py

Why the default is 100 trees: the forest was the stack's largest fit and inference cost.
"""

import logging

import numpy as np

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import config  # noqa: E402
from pel_torch.learners import make_learner  # noqa: E402
from pel_torch.metrics import r2_score  # noqa: E402
from pel_torch.pipeline import make_task  # noqa: E402
from pel_torch.stages import main_target  # noqa: E402

logging.disable(logging.INFO)
print("| split | trees | test R2 per seed | mean |\n|---|---:|---|---:|")
for split in ("temporal", "random"):
    for trees in (100, 200):
        scores = []
        for seed in range(3):
            cfg = config([f"split={split}", "threads=2", f"seed={seed}"])
            task = make_task(cfg)
            prepared = task.prepare(cfg)
            _, y = main_target(task, prepared)
            train, test = prepared.split.train, prepared.split.test
            forest = make_learner("random_forest", {"n_estimators": trees}, seed=seed, threads=2).fit(prepared.features[train], y[train])
            scores.append(r2_score(y[test], forest.predict(prepared.features[test])))
        print(f"| {split} | {trees} | {' / '.join(f'{s:.3f}' for s in scores)} | {np.mean(scores):.3f} |")
