"""Figures and the paired ablation table of docs/RESULTS.md, from Table 2 reports and checkpoints.

    python benchmarks/results_figures.py --reports docs/table2.json docs/table2_strategies.json \
        --ckpt temporal=checkpoints/t2/table2/temporal-seed0/finetune/X.safetensors --out docs/figures

Prints the ablation table (test R2 of each model minus EL's, paired by seed) and writes
``paired_r2.png`` (one line per seed from EL to each P-EL variant) and, per ``--ckpt``,
``predicted_vs_actual_<split>.png`` on that checkpoint's test films.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from omegaconf import OmegaConf

from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import checkpoint_config
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches
from pel_torch.tasks.box_office import BoxOfficeTask

BASELINE = "EL"


def paired_rows(reports: list[dict]) -> list[tuple[str, str, np.ndarray]]:
    """(split, model, per-seed R2 minus EL's) for every non-baseline model of every report."""
    rows = []
    for report in reports:
        for split in ("temporal", "random"):
            base = np.asarray(report[split][BASELINE]["r2"])
            for model, scores in report[split].items():
                if model != BASELINE and len(scores["r2"]) == len(base):
                    rows.append((split, model, np.asarray(scores["r2"]) - base))
    return rows


def ablation_table(rows) -> str:
    lines = ["| split | model | R2 minus EL (paired) | seeds positive |", "|---|---|---|---|"]
    seen = set()
    for split, model, delta in rows:
        if (split, model) in seen:
            continue
        seen.add((split, model))
        lines.append(f"| {split} | {model} | {delta.mean():+.3f} ± {delta.std(ddof=1):.3f} | {(delta > 0).sum()} of {len(delta)} |")
    return "\n".join(lines)


def paired_figure(report: dict, out: Path) -> None:
    models = [m for m in report["temporal"] if m.startswith("P-EL") or m.startswith("EL +")]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
    for axis, split in zip(axes, ("temporal", "random")):
        names = [BASELINE] + models
        values = np.array([report[split][name]["r2"] for name in names])   # (models, seeds)
        for seed in range(values.shape[1]):
            axis.plot(range(len(names)), values[:, seed], marker="o", alpha=0.7, label=f"seed {seed}")
        labels = [n.replace(" without EL head", "\n(no EL head)").replace(" + leaves fine-tuning", "\n+ fine-tuning") for n in names]
        axis.set_xticks(range(len(names)), labels, fontsize=8)
        axis.set_title(f"{split} split: test R2 per seed")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=120)


def predicted_vs_actual(split: str, path: str, out: Path) -> None:
    task = BoxOfficeTask()
    checkpoint = load_checkpoint(path, task)
    prepared = task.prepare(checkpoint_config(OmegaConf.create({"threads": 2}), checkpoint), inputs=checkpoint.inputs)
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    test = prepared.split.test
    actual = scale.encode(task.target_values(prepared.table, "revenue"))[test] * scale.std + scale.mean
    predicted = predict_batches(checkpoint.model, prepared.raw[test]) * scale.std + scale.mean
    r2 = 1 - ((actual - predicted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    figure, axis = plt.subplots(figsize=(4.8, 4.8))
    axis.scatter(actual, predicted, s=6, alpha=0.5)
    low, high = min(actual.min(), predicted.min()), max(actual.max(), predicted.max())
    axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.set_xlabel("actual log1p(revenue, USD)")
    axis.set_ylabel("predicted")
    axis.set_title(f"P-EL, {split} split test films (R2 {r2:.3f})")
    figure.tight_layout()
    figure.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", nargs="+", required=True, help="table2.json files; the first is plotted")
    parser.add_argument("--ckpt", nargs="*", default=[], help="split=checkpoint for predicted-vs-actual plots")
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports = [json.loads(Path(path).read_text()) for path in args.reports]
    print(ablation_table(paired_rows(reports)))
    paired_figure(reports[0], out / "paired_r2.png")
    for item in args.ckpt:
        split, path = item.split("=", 1)
        predicted_vs_actual(split, path, out / f"predicted_vs_actual_{split}.png")


if __name__ == "__main__":
    main()
