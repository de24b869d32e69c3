"""Our tree converters against Hummingbird's, per library: parity with native predict and rows/s.

    python benchmarks/converters.py [--rows 10000] [--threads 2] [--json]

Each model uses the stack's default settings, fitted on the box-office training films of the
temporal split; rows are featurized films drawn from the whole embedded table. CatBoost goes
through Hummingbird via ONNX, whose export drops the bias: we add ``scale_and_bias`` back and
report both.
"""

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from common import config
from pel_torch.compile import to_torch
from pel_torch.compile.parse_catboost import parse_catboost
from pel_torch.learners import make_learner
from pel_torch.pipeline import make_task
from pel_torch.tasks.box_office.targets import target_values


def median_seconds(function, repeats=5) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def hummingbird_module(name, learner, X):
    from hummingbird.ml import convert

    if name != "catboost":
        return convert(learner.model_, "torch", X[:100]), 0.0
    import onnx

    handle, path = tempfile.mkstemp(suffix=".onnx")
    os.close(handle)
    learner.model_.save_model(path, format="onnx")
    model = onnx.load(path)
    os.remove(path)
    return convert(model, "torch", X[:100]), parse_catboost(learner.model_).bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cfg = config([f"threads={args.threads}"])
    prepared = make_task(cfg).prepare(cfg)
    train = prepared.split.train
    X_train, y = prepared.features[train], target_values(prepared.table, "revenue")[train]
    X = prepared.features[np.random.default_rng(0).integers(0, len(prepared.features), args.rows)]
    rows = []
    for name in ("random_forest", "extra_trees", "lightgbm", "xgboost", "catboost"):
        learner = make_learner(name, seed=0, threads=args.threads).fit(X_train, y)
        native = learner.predict(X)
        ours = to_torch(learner)
        with torch.inference_mode():
            ours_out = ours(torch.from_numpy(X)).numpy()
            ours_s = median_seconds(lambda: ours(torch.from_numpy(X)))
        row = {"learner": name, "rows_per_s_native": round(args.rows / median_seconds(lambda: learner.predict(X))),
               "rows_per_s_ours": round(args.rows / ours_s), "max_abs_diff_ours": float(np.abs(ours_out - native).max())}
        try:
            module, bias = hummingbird_module(name, learner, X)
            hb_out = np.asarray(module.predict(X), dtype=np.float64).reshape(-1)
            row["rows_per_s_hummingbird"] = round(args.rows / median_seconds(lambda: module.predict(X)))
            row["max_abs_diff_hummingbird"] = float(np.abs(hb_out - native).max())
            if bias:
                row["max_abs_diff_hummingbird_bias_restored"] = float(np.abs(hb_out + bias - native).max())
        except Exception as err:  # the point of this benchmark is to report such failures
            row["hummingbird_error"] = f"{type(err).__name__}: {str(err)[:120]}"
        rows.append(row)
    if args.json:
        print(json.dumps({"rows": args.rows, "threads": args.threads, "date": time.strftime("%Y-%m-%d"), "results": rows}))
        return
    print("| learner | native rows/s | ours rows/s | ours max abs diff | Hummingbird rows/s | Hummingbird max abs diff |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        hb_diff = r.get("hummingbird_error") or f"{r['max_abs_diff_hummingbird']:.1e}" + (
            f" (bias restored: {r['max_abs_diff_hummingbird_bias_restored']:.1e})" if "max_abs_diff_hummingbird_bias_restored" in r else "")
        print(f"| {r['learner']} | {r['rows_per_s_native']:,} | {r['rows_per_s_ours']:,} | {r['max_abs_diff_ours']:.1e} | "
              f"{r.get('rows_per_s_hummingbird', '-')} | {hb_diff} |")


if __name__ == "__main__":
    main()
