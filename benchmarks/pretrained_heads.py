"""Several pretrained stacks in one selection head: does pretraining on more than one target pay?

    python benchmarks/pretrained_heads.py --member votes_year=checkpoints/ablation/votes_year/table2 \\
        [--member both=checkpoints/ablation/both/table2] [--checkpoints checkpoints/table2] \\
        [--splits random temporal] [--seeds 5] [--json out.json]

Per (split, seed) of an ``evaluate.py table2=full`` run: the run's EL, its fine-tuned pretrained
stack (rating target, without its head), and the fine-tuned pretrained stack of every ``--member``
(a ``pretraining_ablation.py`` run with another pretraining target, same split and seed) predict the
validation and test films. Caruana selection (``ensemble_selection``) picks the weights on the
validation films, as the default head picks its one weight; the test films score them. Compared,
paired by seed, with the default P-EL (the rating stack and EL under the grid head) and AutoGluon.
Only predictions are made: nothing is refitted.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from common import add_table2_run_arguments, config, load_autogluon, paired_cells, split_predictions, table2_members, write_report
from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import checkpoint_config
from pel_torch.learners.selection import ensemble_selection
from pel_torch.pipeline import prepare
from pel_torch.stages import blend_weight, regression_metrics


def _selection(predictions: dict, names: list[str]) -> dict:
    """Caruana weights over ``names`` chosen on the validation films, scored on the test films."""
    y_val = predictions[names[0]]["val"][0]
    weights = ensemble_selection(np.column_stack([predictions[n]["val"][1] for n in names]), y_val)
    y_test = predictions[names[0]]["test"][0]
    test = np.column_stack([predictions[n]["test"][1] for n in names]) @ weights
    return {**regression_metrics(y_test, test), "weights": dict(zip(names, weights.round(3).tolist()))}


def _run(folder: Path, members: dict[str, Path], threads: int) -> dict:
    table2 = table2_members(folder)
    cfg = checkpoint_config(config([f"threads={threads}"]), load_checkpoint(table2["EL"]))
    prepared = prepare(cfg)
    predictions = {"EL": split_predictions(cfg, table2["EL"], prepared=prepared),
                   "P-EL": split_predictions(cfg, table2["P-EL"], prepared=prepared),
                   "rating": split_predictions(cfg, table2["P-EL"], own_only=True, prepared=prepared)}
    for name, root in members.items():
        found = sorted(Path(root, folder.name, "finetune").glob("*.safetensors"))
        if not found:
            raise SystemExit(f"--member {name}={root}: no fine-tuned checkpoint in {root}/{folder.name}/finetune; "
                             "run benchmarks/pretraining_ablation.py for it first")
        predictions[name] = split_predictions(cfg, found[-1], own_only=True, prepared=prepared)
    row = {model: regression_metrics(*p["test"]) for model, p in predictions.items()}
    row["selection: EL + rating"] = _selection(predictions, ["EL", "rating"])
    row["selection: all"] = _selection(predictions, ["EL", "rating", *members])
    for name in members:
        row[f"chained: rating + ({name} + EL)"] = _chained(predictions, ["rating", name, "EL"])
    return row


def _chained(predictions: dict, names: list[str]) -> dict:
    """The head ``finetune.blend_ckpt`` builds from a chain of checkpoints: the last two members
    blended first, then each earlier one with that blend, every weight from the grid on validation."""
    blended = {part: predictions[names[-1]][part][1] for part in ("val", "test")}
    y_val, y_test = predictions[names[0]]["val"][0], predictions[names[0]]["test"][0]
    for name in reversed(names[:-1]):
        own = {part: predictions[name][part][1] for part in ("val", "test")}
        w = blend_weight(own["val"], blended["val"], y_val)
        blended = {part: (1 - w) * own[part] + w * blended[part] for part in ("val", "test")}
    return regression_metrics(y_test, blended["test"])


def _table(results: dict, autogluon: dict, compared: list[str]) -> str:
    lines = ["| split | model | test R2 | vs | paired gain | seeds positive |", "|---|---|---|---|---|---|"]
    for split, rows in results.items():
        def add(model, base, base_scores=None):
            lines.append(f"| {split} | {model} | {paired_cells(rows, model, base, base_scores)} |")
        for model in compared:
            add(model, "P-EL")
        ag = autogluon.get(split, {}).get("AutoGluon", {}).get("r2", [])
        if len(ag) == len(rows):
            for model in ("P-EL", "selection: all", *(m for m in compared if m.startswith("chained"))):
                add(model, "AutoGluon", ag)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--member", action="append", required=True, metavar="NAME=FOLDER",
                        help="a pretraining_ablation.py run's checkpoints folder (…/table2) and its name")
    add_table2_run_arguments(parser)
    args = parser.parse_args()
    members = {}
    for spec in args.member:
        name, sep, root = spec.partition("=")
        if not sep or not name or not root:
            parser.error(f"--member {spec!r}: write it as NAME=FOLDER, e.g. votes_year=checkpoints/ablation/votes_year/table2")
        members[name] = Path(root)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    results = {}
    for split in args.splits:
        for seed in range(args.seeds):
            folder = Path(args.checkpoints, f"{split}-seed{seed}")
            row = _run(folder, members, args.threads)
            results.setdefault(split, []).append(row)
            print(f"{folder.name}: P-EL {row['P-EL']['r2']:.4f}, selection over all {row['selection: all']['r2']:.4f} "
                  f"{row['selection: all']['weights']} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    autogluon = load_autogluon(args.autogluon)
    compared = ["EL", "rating", *members, "selection: EL + rating", "selection: all", *(f"chained: rating + ({m} + EL)" for m in members)]
    table = _table(results, autogluon, compared)
    print(table)
    if args.json:
        write_report(args.json, "pretrained_heads.py", started, results=results, table=table)


if __name__ == "__main__":
    main()
