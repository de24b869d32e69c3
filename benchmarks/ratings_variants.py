"""The default ratings stack against variants of it, paired on each split's test ratings: RMSE over
all test ratings and by how many training ratings the film had before (cold films), and the
compiled module's ratings per second; the stack's validation RMSE, where a variant may be chosen.

    python benchmarks/ratings_variants.py [--splits u1 user_temporal] [--variant "NAME=OVERRIDE OVERRIDE ..."]... [--jobs 2] [--json PATH]

Without ``--variant`` the one variant is the stack without the film table's credits
(``features.film_table=null``). Each stack is fitted as ``stage=scratch`` fits it (learners bagged,
head chosen on validation), with the same seed, so the differences are the variant's.
"""

import argparse
import logging
import time

import numpy as np

from common import config, parse_variant, rows_per_second, write_report
from pel_torch.inference import learner_predictions, predict_batches, select_training_kernels, validation_predictions
from pel_torch.pipeline import make_task
from pel_torch.stages import fit_scratch, main_target
from pel_torch.tasks.ratings import cold_warm
from pel_torch.threads import limit_threads

DEFAULT = "default"
# (lowest, highest) training ratings of the film before the rated one.
FILM_BINS = ((0, 0), (1, 4), (5, 19), (20, None))


def one_run(split: str, overrides: list[str], threads: int, jobs: int = 1) -> dict:
    cfg = config(["task=ratings", f"split={split}", f"threads={threads}", f"jobs={jobs}", *overrides])
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    scale, y = main_target(task, prepared)
    started = time.perf_counter()
    member, held_out = fit_scratch(cfg, prepared, y)
    stack = select_training_kernels(member.double().eval(), cfg.kernels)
    fit_seconds = time.perf_counter() - started
    test = prepared.split.test
    raw = prepared.raw[test]
    predictions = {"stack": predict_batches(stack, raw), **learner_predictions(stack, raw)}
    counts = cold_warm.prior_counts(raw, prepared.inputs.feature_names_, who="item")
    groups = {"all": np.ones(len(test), bool)}
    groups.update({f"film {cold_warm.bin_label(*bounds)}": mask for bounds, mask in zip(FILM_BINS, cold_warm.bin_masks(counts, FILM_BINS))})
    rmse = {model: {group: task.metrics(y[test][mask], p[mask], scale)["rmse"] for group, mask in groups.items() if mask.any()}
            for model, p in predictions.items()}
    val = prepared.split.val
    # What a variant may be chosen on: the validation ratings (the head was chosen on them too), as the stack predicted
    # them before a refit on them (split.refit)
    val_rmse = task.metrics(y[val], validation_predictions(stack, prepared.raw[val], held_out), scale)["rmse"]
    members_val = {name: p for name, p in held_out.items() if name != "model"} if held_out else learner_predictions(stack, prepared.raw[val])
    return {"rmse": rmse, "validation_rmse": val_rmse,
            "validation_rmse_learners": {name: task.metrics(y[val], p, scale)["rmse"] for name, p in members_val.items()}, "ratings": {group: int(mask.sum()) for group, mask in groups.items()}, "fit_seconds": round(fit_seconds),
            "module_ratings_per_s": round(rows_per_second(stack, raw, repeats=3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["u1", "user_temporal"])
    parser.add_argument("--variant", action="append", type=parse_variant, help="NAME=OVERRIDE [OVERRIDE ...] (repeatable)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="fits at once (jobs=); the models are the same")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    limit_threads(args.threads)
    variants = {DEFAULT: [], **dict(args.variant or [("without credits", ["features.film_table=null"])])}
    started, results = time.perf_counter(), {}
    for split in args.splits:
        results[split] = {name: one_run(split, overrides, args.threads, args.jobs) for name, overrides in variants.items()}
        base = results[split][DEFAULT]
        print(f"\n{split}: stack test RMSE, each variant against the default stack (paired: same split, same seed)")
        print("| ratings | n | default | " + " | ".join(f"{name} (difference)" for name in variants if name != DEFAULT) + " |")
        print("|---|---|---|" + "---|" * (len(variants) - 1))
        for group, n in base["ratings"].items():
            cells = [f"{results[split][name]['rmse']['stack'][group]:.4f} ({results[split][name]['rmse']['stack'][group] - base['rmse']['stack'][group]:+.4f})"
                     for name in variants if name != DEFAULT]
            print(f"| {group} | {n:,} | {base['rmse']['stack'][group]:.4f} | " + " | ".join(cells) + " |")
        print("| validation (stack) | | " + " | ".join(f"{results[split][name]['validation_rmse']:.4f}" for name in variants) + " |")
        for learner in base["validation_rmse_learners"]:
            print(f"| validation ({learner}) | | " + " | ".join(f"{results[split][name]['validation_rmse_learners'][learner]:.4f}" for name in variants) + " |")
        print("| module ratings/s | | " + " | ".join(f"{results[split][name]['module_ratings_per_s']:,}" for name in variants) + " |")
        print("| fit seconds | | " + " | ".join(f"{results[split][name]['fit_seconds']:,}" for name in variants) + " |")
        if args.json:
            write_report(args.json, "ratings_variants.py", started, results=results,
                         meta={"threads": args.threads, "jobs": args.jobs, "variants": variants})


if __name__ == "__main__":
    main()
