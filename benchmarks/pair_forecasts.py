"""Pair a model of one forecasting report with a model of another, run by run (test window and seed).

    python benchmarks/pair_forecasts.py reports/genre_volume.json stack docs/genre_volume.json stack

Both files are ``evaluate.py task=genre_volume report=full``'s JSON (``{dataset: {model: {"mape": x, ...,
"runs": {metric: [per run]}}}}``; reports before the ``runs`` key wrote ``seeds``). Run k of one is run k
of the other: the same test window and seed, so the difference is the code's or the settings', not the
draw's.
"""

import sys
from pathlib import Path

import numpy as np

from common import paired_runs, read_json

METRICS = ("mape", "smape", "mase", "coverage80")


def per_run(path: Path, model: str) -> dict[str, dict[str, np.ndarray]]:
    """``{dataset: {metric: (runs,)}}`` of ``model`` in the report at ``path``, or a one-line error naming what is there."""
    report = read_json(path, str(path), "pass the JSON of evaluate.py task=genre_volume report=full")
    found = {dataset: rows[model] for dataset, rows in report.items() if dataset != "meta" and model in rows}
    if not found:
        present = sorted({m for dataset, rows in report.items() if dataset != "meta" for m in rows})
        raise SystemExit(f"{path}: no model {model!r}; it holds {', '.join(present) or 'no models'}")
    runs = {dataset: row.get("runs", row.get("seeds")) for dataset, row in found.items()}
    lacking = [dataset for dataset, values in runs.items() if not isinstance(values, dict) or not set(METRICS) <= set(values)]
    if lacking:
        raise SystemExit(f"{path}: {model!r} of {lacking[0]} has no per-run {', '.join(METRICS)} (its 'runs'); "
                         "pass the JSON of evaluate.py task=genre_volume report=full")
    return {dataset: {m: np.asarray(values[m], dtype=float) for m in METRICS} for dataset, values in runs.items()}


def paired_table(model: dict, base: dict, model_name: str, base_name: str) -> str:
    lines = [f"| dataset | runs | metric | {model_name} | {base_name} | paired difference | lower in |", "|---|---|---|---|---|---|---|"]
    for dataset in (d for d in model if d in base):
        for metric in METRICS:
            a, b = model[dataset][metric], base[dataset][metric]
            if len(a) != len(b):
                raise SystemExit(f"{dataset}: {len(a)} runs against {len(b)}; pair reports of the same windows and seeds")
            difference = a - b
            spread = f" ± {difference.std(ddof=1):.3f}" if len(difference) > 1 else ""
            # an interval's coverage is better nearer 0.80, not lower
            lower = "" if metric == "coverage80" else f"{int((difference < 0).sum())} of {len(a)}"
            lines.append(f"| {dataset} | {len(a)} | {metric} | {a.mean():.3f} | {b.mean():.3f} | {difference.mean():+.3f}{spread} "
                         f"({100 * difference.mean() / b.mean():+.1f}%) | {lower} |")
    return "\n".join(lines)


def main() -> None:
    model, base, args = paired_runs(__doc__, per_run, "dataset", "stack", "stack")
    print(paired_table(model, base, f"{args.model} ({args.run.name})", f"{args.base} ({args.base_run.name})"))


if __name__ == "__main__":
    sys.exit(main())
