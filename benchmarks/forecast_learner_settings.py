"""One forecaster of the stack under variants of its settings, judged on the validation origins alone:
fit seconds and validation MASE / MAPE, paired against the settings the config gives it.

    python benchmarks/forecast_learner_settings.py tourism_monthly neural_net \\
        --variant "batch 1024=++stack.learners.neural_net.batch_size=1024" [--seeds 0 1 2] [--json PATH]

Each variant fits the learner as the stack's first fit does (``stack.n_folds`` fold models, or one with
``stack.last_layer=once`` among its overrides) on the dataset's training rows, and scores it on the validation
origins, the rows the head is chosen on. No test row is read, so the settings may be chosen by this table.
Tourism's settings are the report's (``data=tourism_monthly``; its stack without ``window_lstm`` changes
nothing here, since one learner is fitted).
"""

import argparse
import dataclasses
import logging
import time

import numpy as np
from omegaconf import OmegaConf

from common import config, parse_variant, write_report
from pel_torch.pipeline import build_stack, make_task
from pel_torch.stages import main_target
from pel_torch.tasks.genre_volume.report import DATASETS

DEFAULT = "config"
# what the forecast rows are built from: a variant changing any of them cannot reuse the first variant's rows
ROW_SETTINGS = ("data", "split", "horizon", "lags", "features")


def one_fit(dataset: str, learner: str, seed: int, threads: int, overrides: list[str], prepared=None, rows_from=None) -> tuple[dict, object, dict]:
    """The learner fitted under ``overrides`` and scored on the validation origins; ``prepared`` rows are reused where
    given, and ``rows_from`` (the settings they were built with) must then be this config's too."""
    cfg = config(["task=genre_volume", f"data={dataset}", "stage=scratch", f"seed={seed}", f"threads={threads}",
                  f"stack.layers=[[{learner}]]", *overrides])
    task = make_task(cfg)
    rows = OmegaConf.to_container(OmegaConf.masked_copy(cfg, list(ROW_SETTINGS)), resolve=True)
    if prepared is not None and rows != rows_from:
        raise SystemExit(f"--variant {' '.join(overrides)}: changes how the rows are built ({', '.join(ROW_SETTINGS)}); "
                         "give learner settings alone, or run it on its own")
    # the rows' times follow this config's network_holdout, which a variant may change without changing the rows
    prepared = task.prepare(cfg) if prepared is None else dataclasses.replace(prepared, times=task.row_times(cfg, prepared.table))
    scale, y = main_target(task, prepared)
    train, val, table = prepared.split.train, prepared.split.val, prepared.table
    started = time.perf_counter()
    ensemble = build_stack(cfg, progress=False).fit(prepared.features[train], y[train], prepared.groups, prepared.sizes,
                                                      prepared.times_of(train))
    seconds = time.perf_counter() - started
    prediction = ensemble.predict_layers(prepared.features[val])[-1][:, 0]
    errors = task.metrics(y[val], prediction, scale, table.iloc[val])
    return {"seconds": round(seconds, 1), "mase": errors["mase"], "mape": errors["mape"]}, prepared, rows


def spread(values: np.ndarray) -> float:
    """The sample standard deviation over seeds, as the other benchmarks report it; 0 for one seed."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("learner")
    parser.add_argument("--variant", action="append", type=parse_variant, default=[], help="NAME=OVERRIDE [OVERRIDE ...] (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    variants = {DEFAULT: [], **dict(args.variant)}
    results, prepared, rows = {name: [] for name in variants}, None, None
    for seed in args.seeds:
        for name, overrides in variants.items():
            run, prepared, rows = one_fit(args.dataset, args.learner, seed, args.threads, overrides, prepared, rows)
            results[name].append(run)
            print(f"seed {seed} {name}: {run}", flush=True)
    base = results[DEFAULT]
    print(f"\n{args.dataset}, {args.learner} alone, validation origins, seeds {args.seeds}: mean ± std; "
          "difference paired by seed against the config's settings")
    print("| settings | fit seconds | validation MASE | MASE difference | validation MAPE |\n|---|---|---|---|---|")
    for name, runs in results.items():
        mase, mape, seconds = (np.array([r[key] for r in runs]) for key in ("mase", "mape", "seconds"))
        difference = mase / np.array([r["mase"] for r in base]) - 1
        print(f"| {name} | {seconds.mean():,.0f} | {mase.mean():.3f} ± {spread(mase):.3f} | {difference.mean():+.1%} ± {spread(difference):.1%} "
              f"(lower on {(difference < 0).sum()} of {len(difference)}) | {mape.mean():.2f} ± {spread(mape):.2f} |")
    if args.json:
        write_report(args.json, "forecast_learner_settings.py", started, results=results,
                     meta={"dataset": args.dataset, "learner": args.learner, "variants": variants, "seeds": args.seeds, "threads": args.threads})


if __name__ == "__main__":
    main()
