"""Pair a model of one Table 2-shaped run with a model of another, seed by seed.

    python benchmarks/pair_runs.py docs/table2.json "P-EL (leaves)" docs/autogluon.json AutoGluon

Both files are shaped like ``reports/table2.json`` (``{split: {model: {"r2": [per seed], ...}}}``):
``evaluate.py table2=full`` and ``compare_autogluon.py fit`` write them. Seed k of one run is seed
k of the other (the same split for the random split). A base with a single score (AutoGluon's one
temporal run on the fixed split) is compared with every seed of the model.
"""

import sys
from pathlib import Path

import numpy as np

from common import paired_cells, paired_runs, read_json

METRICS = ("r2", "mse", "mae")


def scores(path: Path, model: str) -> dict:
    """``{split: {metric: [per seed]}}`` of ``model`` in the run at ``path``, or a one-line error naming what is there."""
    run = read_json(path, str(path), "pass a table2.json or autogluon.json")
    found = {split: models[model] for split, models in run.items() if split != "meta" and model in models}
    if not found:
        present = sorted({m for split, models in run.items() if split != "meta" for m in models})
        raise SystemExit(f"{path}: no model {model!r}; it holds {', '.join(present) or 'no models'}")
    return found


def paired_table(model: dict, base: dict, model_name: str, base_name: str) -> str:
    lines = ["| split | model | test R2 | vs | paired R2 gain | seeds positive | MSE change | MAE change |",
             "|---|---|---|---|---|---|---|---|"]
    for split in (s for s in model if s in base):
        n = len(model[split]["r2"]) if len(base[split]["r2"]) == 1 else min(len(model[split]["r2"]), len(base[split]["r2"]))
        reference = {m: np.resize(base[split][m], n) for m in METRICS}
        rows = [{model_name: {m: model[split][m][k] for m in METRICS}} for k in range(n)]
        change = {m: np.mean(np.array(model[split][m][:n]) - reference[m]) for m in ("mse", "mae")}
        lines.append(f"| {split} | {model_name} | {paired_cells(rows, model_name, base_name, reference['r2'])} | "
                     f"{change['mse']:+.3f} | {change['mae']:+.3f} |")
    return "\n".join(lines)


def main() -> None:
    model, base, args = paired_runs(__doc__, scores, "split", "P-EL", "AutoGluon")
    print(paired_table(model, base, args.model, args.base))


if __name__ == "__main__":
    sys.exit(main())
