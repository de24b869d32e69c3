"""One pretraining direction against EL, paired by seed: the rows of RESULTS.md's ablation table.

    python benchmarks/pretraining_ablation.py --name votes_year --override pretrain.target=votes_year \
        [--splits random temporal] [--seeds 5] [--threads 2] [--reuse-el checkpoints/table2] [--blend] [--json out.json]
    python benchmarks/pretraining_ablation.py --name soft_splits --override "finetune.soft_splits.learners=[catboost,xgboost]" \
        --reuse-el checkpoints/table2 --reuse-pretrain checkpoints/table2 --blend
    python benchmarks/pretraining_ablation.py --table docs/ablation/votes_year.json     # reprint a saved run's table

Per (split, seed), exactly as ``evaluate.py table2=full`` runs P-EL: pretrain with the overrides,
fine-tune with the configured strategy (without the EL head unless ``--blend``), score the test films. EL (the same stack on box office
only) does not depend on the pretraining overrides, so ``--reuse-el`` takes the scratch
checkpoints of an earlier Table 2 run (``checkpoints/table2/<split>-seed<k>/scratch``) instead of
refitting them; without it, or where one is missing, EL is fitted here. A stack variant
(``stack.n_folds=8``) changes EL too: point ``--reuse-el`` at the variant's box-office stacks
(``checkpoints/ablation/diversity/<name>`` of ``stack_diversity.py``) or let it refit them. A direction that changes
only fine-tuning reuses that run's pretrained stacks too (``--reuse-pretrain``) and is also compared
with the run's default P-EL, fine-tuned from the same pretrained stack; ``--compare`` pairs any
direction with an earlier run's default P-EL (the stack variants, which pretrain anew). The printed table is the
paired test-R2 gain (mean ± std, seeds positive) and the MSE / MAE changes.
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from hydra import compose, initialize_config_dir

from common import CONFIGS, load_autogluon, read_json, table2_members
from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.stages import finetune, pretrain, scratch
from pel_torch.table2 import _run_config

METRICS = ("r2", "mse", "mae")


def _scores(cfg, checkpoint_path, val_r2=None) -> dict:
    metrics = evaluate_checkpoint(cfg, load_checkpoint(checkpoint_path))
    return {**{m: metrics[f"test/{m}"] for m in METRICS}, "val_r2": val_r2}


def _el(cfg, reuse: Path | None, split: str, seed: int) -> dict:
    found = sorted(Path(reuse, f"{split}-seed{seed}", "scratch").glob("*.safetensors")) if reuse else []
    if found:
        return {**_scores(cfg, found[-1]), "checkpoint": str(found[-1])}
    result = scratch(OmegaConf.merge(cfg, {"stage": "scratch"}))
    return {**_scores(cfg, result.checkpoint, result.metrics["val/r2"]), "checkpoint": str(result.checkpoint)}


def _reused_pretrain(cfg, reuse: Path, split: str, seed: int) -> tuple[str, dict]:
    """An earlier run's pretrain checkpoint for (split, seed), and the scores of that run's default P-EL."""
    folder = Path(reuse, f"{split}-seed{seed}")
    found = sorted((folder / "pretrain").glob("*.safetensors"))
    if not found:
        raise SystemExit(f"--reuse-pretrain: no pretrain checkpoint in {folder / 'pretrain'}")
    return str(found[-1]), _scores(cfg, table2_members(folder)["P-EL"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", help="the direction's name in the table (required unless --table)")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides for the pretrain and finetune stages")
    parser.add_argument("--splits", nargs="+", default=["random", "temporal"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reuse-el", default=None, help="folder of an earlier Table 2 run's checkpoints (its EL stacks)")
    parser.add_argument("--reuse-pretrain", default=None,
                        help="folder of an earlier Table 2 run's checkpoints: fine-tune its pretrained stacks (for fine-tuning directions only)")
    parser.add_argument("--compare", default=None,
                        help="folder of an earlier Table 2 run's checkpoints: also pair against its default P-EL (implied by --reuse-pretrain)")
    parser.add_argument("--blend", action="store_true", help="P-EL with its EL head (finetune.blend, blended with the EL below)")
    parser.add_argument("--autogluon", default="docs/autogluon.json", help="compare_autogluon.py's scores: also pair P-EL against them, if any")
    parser.add_argument("--json", default=None, help="write per-seed results here")
    parser.add_argument("--table", default=None, metavar="JSON", help="print the table of a run saved with --json, and run nothing")
    args = parser.parse_args()
    if args.table:
        saved = _saved_run(Path(args.table))
        print(_table(saved["meta"]["name"], saved["results"], load_autogluon(args.autogluon)))
        return
    if not args.name:
        parser.error("--name is required: the direction's name, e.g. --name votes_year")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        base = compose("evaluate", overrides=[f"threads={args.threads}", f"checkpoints_dir=checkpoints/ablation/{args.name}", *args.override])
    started = time.perf_counter()
    results = {}
    for seed in range(args.seeds):
        for split in args.splits:
            cfg = _run_config(base, split, seed)
            el = _el(cfg, args.reuse_el, split, seed)
            if args.reuse_pretrain:
                pretrained_path, default = _reused_pretrain(cfg, args.reuse_pretrain, split, seed)
            else:
                pretrained_path = str(pretrain(OmegaConf.merge(cfg, {"stage": "pretrain"})).checkpoint)
                default = _scores(cfg, table2_members(Path(args.compare, f"{split}-seed{seed}"))["P-EL"]) if args.compare else None
            # Without --blend, P-EL is the fine-tuned stack alone, as measured before finetune.blend existed.
            blend = {"blend": True, "blend_ckpt": el["checkpoint"]} if args.blend else {"blend": False}
            tuned = finetune(OmegaConf.merge(cfg, {"stage": "finetune", "ckpt_path": pretrained_path, "finetune": blend}))
            row = {"P-EL": _scores(cfg, tuned.checkpoint, tuned.metrics["val/r2"]), "EL": el}
            if default is not None:
                row["P-EL default"] = default
            results.setdefault(split, []).append(row)
            print(f"{split} seed {seed}: P-EL {row['P-EL']['r2']:.4f}  EL {row['EL']['r2']:.4f}  "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    meta = {"name": args.name, "overrides": args.override, "seeds": args.seeds, "threads": args.threads,
            "seconds": round(time.perf_counter() - started), "date": time.strftime("%Y-%m-%d"),
            "command": "python benchmarks/pretraining_ablation.py " + " ".join(sys.argv[1:])}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(_table(args.name, results, load_autogluon(args.autogluon)))


def _saved_run(path: Path) -> dict:
    """A run written by ``--json``; anything else stops with a line naming the file."""
    hint = "pass a file this script wrote with --json, e.g. docs/ablation/votes_year.json"
    saved = read_json(path, f"--table {path}", hint)
    if not (isinstance(saved, dict) and "results" in saved and isinstance(saved.get("meta"), dict) and "name" in saved["meta"]):
        raise SystemExit(f"--table {path}: no 'meta.name' and 'results', so not a saved ablation run; {hint}")
    return saved


def _table(name: str, results: dict, autogluon: dict) -> str:
    lines = ["| direction | split | P-EL R2 | vs | its R2 | paired R2 gain | seeds positive | MSE change | MAE change |",
             "|---|---|---|---|---|---|---|---|---|"]
    for split, rows in results.items():
        for base in ("EL", "P-EL default"):
            if all(base in r for r in rows):
                lines.append(_paired_row(name, split, rows, base))
        ag = autogluon.get(split, {}).get("AutoGluon", {})
        if len(ag.get("r2", [])) >= len(rows):  # AutoGluon's seed k ran on this script's split k
            scores = [{"AutoGluon": {m: ag[m][seed] for m in METRICS}} for seed in range(len(rows))]
            lines.append(_paired_row(name, split, [{**r, **s} for r, s in zip(rows, scores)], "AutoGluon"))
    return "\n".join(lines)


def _paired_row(name: str, split: str, rows: list[dict], base: str) -> str:
    gain = {m: np.array([r["P-EL"][m] - r[base][m] for r in rows]) for m in METRICS}
    pel, reference = (np.array([r[k]["r2"] for r in rows]) for k in ("P-EL", base))
    std = (lambda a: a.std(ddof=1)) if len(rows) > 1 else (lambda a: 0.0)
    return (f"| {name} | {split} | {pel.mean():.3f} ± {std(pel):.3f} | {base} | {reference.mean():.3f} | "
            f"{gain['r2'].mean():+.3f} ± {std(gain['r2']):.3f} | {(gain['r2'] > 0).sum()} of {len(rows)} | "
            f"{gain['mse'].mean():+.3f} | {gain['mae'].mean():+.3f} |")


if __name__ == "__main__":
    main()
