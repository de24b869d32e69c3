"""The flat selection head against the nested chain it replaced, on a Table 2 run's fine-tuned checkpoints.

    python evaluate.py table2=full table2_seeds=5 threads=2          # writes checkpoints/table2/<split>-seed<k>/
    python benchmarks/head_weights.py --checkpoints checkpoints/table2 --seeds 5 --json docs/head_weights.json

For each (split, seed), P-EL's members (the fine-tuned rating and votes_year stacks and EL) are
scored on the validation and test films, and three ways of weighting them, all chosen on the
validation films, are compared:
- ``flat``: ensemble selection over the members (Caruana, ``stack.selection_rounds`` rounds): the product;
- ``nested``: the chain it replaced, ``rating + (votes_year + EL)``, each weight from a 0.05 grid, innermost first;
- ``grid``: every weighting on the 0.05 simplex grid (the validation optimum on that grid).
"""

import argparse
import itertools
import logging
import time
from pathlib import Path

import numpy as np

from common import config, split_predictions, write_report
from pel_torch.learners.selection import ensemble_selection
from pel_torch.metrics import r2_score
from pel_torch.checkpoint import load_checkpoint
from pel_torch.tasks.box_office import BoxOfficeTask

GRID = np.round(np.arange(0, 1.0001, 0.05), 2)


def nested(val: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Members ``(rating, votes_year, EL)``: EL into votes_year, then that head into rating, each on the 0.05 grid."""
    def weight(own, partner):
        return GRID[int(np.argmin([np.mean(((1 - w) * own + w * partner - y) ** 2) for w in GRID]))]

    inner = weight(val[:, 1], val[:, 2])
    outer = weight(val[:, 0], (1 - inner) * val[:, 1] + inner * val[:, 2])
    return np.array([1 - outer, outer * (1 - inner), outer * inner])


def grid(val: np.ndarray, y: np.ndarray, steps: int = 20) -> np.ndarray:
    points = np.array([c for c in itertools.product(range(steps + 1), repeat=val.shape[1]) if sum(c) == steps]) / steps
    errors = (((val @ points.T) - y[:, None]) ** 2).mean(axis=0)
    return points[int(np.argmin(errors))]


def finetune_checkpoint(folder: Path) -> Path:
    """The run's P-EL checkpoint (fine-tuned from a pretrain checkpoint, not from EL)."""
    for path in sorted((folder / "finetune").glob("*.safetensors")):
        if "/pretrain/" in load_checkpoint(path, BoxOfficeTask()).spec["extra"]["pretrain_checkpoint"]:
            return path
    raise SystemExit(f"{folder}: no P-EL finetune checkpoint; point --checkpoints at an evaluate.py table2=full run's checkpoints_dir/table2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default="checkpoints/table2")
    parser.add_argument("--splits", nargs="+", default=["random", "temporal"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=25, help="stack.selection_rounds of the run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started, cfg = time.perf_counter(), config(["threads=2"])
    methods = {"flat": lambda v, y: ensemble_selection(v, y, args.rounds), "nested": nested, "grid": grid}
    results = {}
    for split in args.splits:
        rows = []
        for seed in range(args.seeds):
            parts = split_predictions(cfg, finetune_checkpoint(Path(args.checkpoints, f"{split}-seed{seed}")), members=True)
            (y_val, val), (y_test, test) = parts["val"], parts["test"]
            row = {}
            for name, choose in methods.items():
                weights = choose(val, y_val)
                row[name] = {"weights": weights.round(4).tolist(), "val_mse": float(np.mean((val @ weights - y_val) ** 2)),
                             "test_r2": r2_score(y_test, test @ weights)}
            rows.append(row)
        results[split] = rows
        print(f"\n{split}: test R2 per seed (weights rating / votes_year / EL)")
        for name in methods:
            r2 = np.array([row[name]["test_r2"] for row in rows])
            val_mse = np.array([row[name]["val_mse"] for row in rows])
            gain = r2 - np.array([row["flat"]["test_r2"] for row in rows])
            print(f"  {name:<7} test R2 {r2.mean():.4f} ± {r2.std(ddof=1) if len(r2) > 1 else 0:.4f}   validation MSE {val_mse.mean():.4f}   "
                  f"minus flat {gain.mean():+.4f} (above on {(gain > 0).sum()} of {len(gain)})   "
                  + "  ".join("/".join(f"{w:.2f}" for w in row[name]["weights"]) for row in rows))
    if args.json:
        write_report(args.json, "head_weights.py", started, results=results)


if __name__ == "__main__":
    main()
