"""Does the stack (EL) beat its own learners? Test R2 of EL against every learner alone, paired by seed.

    python benchmarks/stack_members.py --seeds 5 --json docs/stack_members.json
    python benchmarks/stack_members.py --table examples/films_no_cast.csv --seeds 3 --json docs/stack_members_no_cast.json

For each (split, seed) the box-office stack is fitted once on the training films, as
``stage=scratch`` fits it. Scored on the test films:
- ``EL``: the stack as the configured head combines it;
- the stack's bagged learners, layer by layer (``layer 1 lightgbm``, ...);
- each learner fitted alone on all training films, as Table 2's single-learner rows are;
- head variants computed from the same fitted stack: the selection weights chosen on the
  out-of-fold predictions (``oof``, the stack's own fit) or on the validation films
  (``val: last layer``; ``val: every layer``, where a first-layer learner alone may win).
Never chosen on test: the best single learner is reported per split for the comparison only.
"""

import argparse
import logging
import time

import numpy as np

from common import config, write_report
from pel_torch.learners import make_learner
from pel_torch.learners.selection import ensemble_selection
from pel_torch.metrics import r2_score
from pel_torch.pipeline import build_stack, make_task
from pel_torch.stages import main_target

SINGLE = ("catboost", "random_forest", "lightgbm", "xgboost", "neural_net", "linear")


def one_run(cfg) -> dict[str, float]:
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    _, y = main_target(task, prepared)
    train, val, test = prepared.split.train, prepared.split.val, prepared.split.test
    ensemble = build_stack(cfg, progress=False).fit(prepared.features[train], y[train], prepared.groups)
    scores = {"EL": r2_score(y[test], ensemble.predict(prepared.features[test]))}
    layers = {part: ensemble.predict_layers(prepared.features[rows]) for part, rows in (("val", val), ("test", test))}
    for depth, names in enumerate(ensemble.learner_names):
        for j, name in enumerate(names):
            scores[f"layer {depth + 1} {name}"] = r2_score(y[test], layers["test"][depth][:, j])
    last_val, last_test = layers["val"][-1], layers["test"][-1]
    every_val, every_test = np.hstack(layers["val"]), np.hstack(layers["test"])
    rounds = cfg.stack.selection_rounds
    scores["head: val, last layer"] = r2_score(y[test], last_test @ ensemble_selection(last_val, y[val], rounds))
    scores["head: val, every layer"] = r2_score(y[test], every_test @ ensemble_selection(every_val, y[val], rounds))
    overrides = dict(cfg.stack.learners)
    for name in SINGLE:
        learner = make_learner(name, overrides.get(name), seed=cfg.seed, threads=cfg.threads).fit(prepared.features[train], y[train])
        scores[f"single {name}"] = r2_score(y[test], learner.predict(prepared.features[test]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default=None, help="a canonical CSV or Parquet film table (default: the embedded Wikidata films)")
    parser.add_argument("--splits", nargs="+", default=["random", "temporal"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides, e.g. stack.n_folds=8")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    data = ["data=csv", f"data.paths=[{args.table}]"] if args.table else []
    results = {}
    for split in args.splits:
        runs = [one_run(config([*data, f"split={split}", f"seed={seed}", f"threads={args.threads}", *args.override]))
                for seed in range(args.seeds)]
        results[split] = {model: [run[model] for run in runs] for model in runs[0]}
        print_split(split, results[split])
    if args.json:
        write_report(args.json, "stack_members.py", started, results=results, meta={"table": args.table or "embedded wikidata"})


def print_split(split: str, rows: dict[str, list[float]]) -> None:
    singles = [m for m in rows if m.startswith("single ")]
    best = max(singles, key=lambda m: np.mean(rows[m]))
    print(f"\n{split} split: test R2, mean ± std over {len(rows['EL'])} seeds; paired against EL and against the best single learner ({best})")
    print("| model | test R2 | minus EL | minus best single |\n|---|---|---|---|")
    for model, r2 in rows.items():
        r2 = np.asarray(r2)
        vs_el, vs_best = r2 - np.asarray(rows["EL"]), r2 - np.asarray(rows[best])
        print(f"| {model} | {r2.mean():.4f} ± {r2.std(ddof=1) if len(r2) > 1 else 0:.4f} | {vs_el.mean():+.4f} ({(vs_el > 0).sum()}/{len(r2)}) "
              f"| {vs_best.mean():+.4f} ({(vs_best > 0).sum()}/{len(r2)}) |")


if __name__ == "__main__":
    main()
