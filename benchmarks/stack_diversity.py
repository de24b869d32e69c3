"""Stack depth and diversity: EL variants as the box-office member of P-EL's selection head.

    python benchmarks/stack_diversity.py --name six_learners \\
        --override "stack.layer=[catboost,random_forest,lightgbm,xgboost,neural_net,extra_trees]" \\
        [--checkpoints checkpoints/table2] [--splits random temporal] [--seeds 5] [--threads 2] [--json out.json]

Per (split, seed) of an ``evaluate.py table2=full`` run: fit EL with the overrides
(``stage=scratch``: the same films, split and features), score it on the test films, and put it
in the selection head beside that run's fine-tuned pretrained stack (its own part, without its
head), the weight chosen on the validation films as ``finetune.blend`` chooses it. Compared,
paired by seed, with the run's EL, with the default P-EL (whose head holds that EL) and with
AutoGluon. Only the box-office stack changes: the pretrained stack keeps the default layout, so a
gain here is a lower bound on what refitting P-EL with the variant would give, not a measurement of it.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from common import add_table2_run_arguments, config, load_autogluon, paired_cells, split_predictions, table2_members, write_report
from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import checkpoint_config
from pel_torch.pipeline import prepare
from pel_torch.stages import blend_weight, regression_metrics, scratch


def _head(own: dict, partner: dict) -> dict:
    """The validation-chosen blend of ``own`` and ``partner``, scored on the test films."""
    w = blend_weight(own["val"][1], partner["val"][1], own["val"][0])
    y, own_test = own["test"]
    return {**regression_metrics(y, (1 - w) * own_test + w * partner["test"][1]), "weight": w}


def _run(folder: Path, name: str, overrides: list[str], threads: int) -> dict:
    members = table2_members(folder)
    cfg = checkpoint_config(config([f"threads={threads}"]), load_checkpoint(members["EL"]))
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides),
                          {"stage": "scratch", "checkpoints_dir": str(Path("checkpoints/ablation/diversity", name, folder.name))})
    prepared = prepare(cfg)
    started = time.perf_counter()
    variant = scratch(cfg, prepared)
    seconds = time.perf_counter() - started
    predictions = {"variant EL": split_predictions(cfg, variant.checkpoint, prepared=prepared),
                   "EL": split_predictions(cfg, members["EL"], prepared=prepared),
                   "P-EL": split_predictions(cfg, members["P-EL"], prepared=prepared),
                   "P-EL own": split_predictions(cfg, members["P-EL"], own_only=True, prepared=prepared)}
    # Validation R2 beside the test scores: a variant is adopted on validation, never on test.
    row = {model: {**regression_metrics(*p["test"]), "val_r2": regression_metrics(*p["val"])["r2"]} for model, p in predictions.items()}
    row["P-EL own + variant EL"] = _head(predictions["P-EL own"], predictions["variant EL"])
    row["fit_seconds"] = seconds
    return row


def _table(name: str, results: dict, autogluon: dict) -> str:
    lines = ["| variant | split | model | test R2 | vs | paired gain | seeds positive |", "|---|---|---|---|---|---|---|"]
    for split, rows in results.items():
        def add(model, base, base_scores=None):
            lines.append(f"| {name} | {split} | {model} | {paired_cells(rows, model, base, base_scores)} |")
        add("variant EL", "EL")
        add("P-EL own + variant EL", "P-EL")
        ag = autogluon.get(split, {}).get("AutoGluon", {}).get("r2", [])
        if len(ag) == len(rows):
            add("P-EL own + variant EL", "AutoGluon", ag)
            add("P-EL", "AutoGluon", ag)
        if all("val_r2" in r["variant EL"] for r in rows):
            val = {m: np.array([r[m]["val_r2"] for r in rows]) for m in ("variant EL", "EL")}
            lines.append(f"| {name} | {split} | validation R2 of the variant EL | {val['variant EL'].mean():.3f} | EL | "
                         f"{val['EL'].mean():.3f} | {(val['variant EL'] > val['EL']).sum()} of {len(rows)} higher |")
        lines.append(f"| {name} | {split} | fit time of the variant EL | {np.mean([r['fit_seconds'] for r in rows]):.0f} s per seed | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--override", nargs="+", required=True, help="config overrides of the EL stack (key=value)")
    add_table2_run_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    results = {}
    for split in args.splits:
        for seed in range(args.seeds):
            folder = Path(args.checkpoints, f"{split}-seed{seed}")
            row = _run(folder, args.name, args.override, args.threads)
            results.setdefault(split, []).append(row)
            print(f"{folder.name}: variant EL {row['variant EL']['r2']:.4f}, EL {row['EL']['r2']:.4f}, "
                  f"P-EL {row['P-EL']['r2']:.4f}, head with the variant {row['P-EL own + variant EL']['r2']:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    table = _table(args.name, results, load_autogluon(args.autogluon))
    print(table)
    if args.json:
        write_report(args.json, "stack_diversity.py", started, meta={"overrides": args.override}, results=results, table=table)


if __name__ == "__main__":
    main()
