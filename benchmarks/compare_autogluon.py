"""AutoGluon on exactly our features and splits: the anchor P-EL has to beat (issue 5).

AutoGluon caps pandas below 3, so it lives in its own virtualenv and never in pel_torch's
dependencies. The script runs in two steps, one per environment:

    # 1. pel_torch's environment: featurize each (split, seed) as Table 2 does, write Parquet
    python benchmarks/compare_autogluon.py export --out checkpoints/autogluon --seeds 5

    # 2. AutoGluon's environment (python -m venv agvenv; pip install torch==2.13.0;
    #    pip install "autogluon.tabular[lightgbm,catboost,xgboost]")
    agvenv/bin/python benchmarks/compare_autogluon.py fit --data checkpoints/autogluon --time-limit 600

    # 3. optional, AutoGluon's environment: its single-row latency, for benchmarks/inference.py
    agvenv/bin/python benchmarks/compare_autogluon.py latency --model checkpoints/autogluon/temporal-seed0

Step 2 fits ``TabularPredictor(presets="best_quality")`` on the training films, with the
validation films as its tuning data (the films the other models early-stop on), and scores the
test films: R2 / MSE / MAE of the standardised log1p revenue, as in Table 2. Results go to
``<data>/autogluon.json``, shaped like ``reports/table2.json``.
"""

import argparse
import json
import time
from pathlib import Path


def export(out: Path, seeds: int, threads: int) -> None:
    from omegaconf import OmegaConf

    from common import config
    from pel_torch.pipeline import make_task
    from pel_torch.stages import main_target

    import pandas as pd

    for split in ("temporal", "random"):
        for seed in range(seeds):
            cfg = config([f"split={split}", f"seed={seed}", f"threads={threads}"])
            task = make_task(cfg)
            prepared = task.prepare(cfg)
            _, y = main_target(task, prepared)
            folder = out / f"{split}-seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            for part in ("train", "val", "test"):
                rows = getattr(prepared.split, part)
                frame = pd.DataFrame(prepared.features[rows], columns=prepared.inputs.feature_names_)
                frame["target"] = y[rows]
                frame.to_parquet(folder / f"{part}.parquet", index=False)
            (folder / "config.json").write_text(json.dumps(OmegaConf.to_container(cfg.split, resolve=True)))
            print(f"wrote {folder}")


def fit(data: Path, time_limit: int, threads: int, pattern: str) -> None:
    import numpy as np
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    results = {}
    for folder in sorted(p for p in data.glob(pattern) if p.is_dir() and (p / "train.parquet").exists()):
        split = folder.name.rsplit("-seed", 1)[0]
        train, val, test = (pd.read_parquet(folder / f"{part}.parquet") for part in ("train", "val", "test"))
        started = time.perf_counter()
        predictor = TabularPredictor(label="target", problem_type="regression", eval_metric="r2",
                                     path=str(folder / "model"), verbosity=1)
        predictor.fit(train, tuning_data=val, use_bag_holdout=True, presets="best_quality", time_limit=time_limit,
                      num_cpus=threads, ag_args_fit={"num_cpus": threads})
        prediction = predictor.predict(test.drop(columns="target")).to_numpy()
        y = test["target"].to_numpy()
        residual = y - prediction
        scores = {"r2": float(1 - (residual ** 2).sum() / ((y - y.mean()) ** 2).sum()),
                  "mse": float((residual ** 2).mean()), "mae": float(np.abs(residual).mean())}
        scores.update({"seconds": round(time.perf_counter() - started), "time_limit": time_limit, "presets": "best_quality",
                       "threads": threads, "date": time.strftime("%Y-%m-%d")})
        (folder / "autogluon.json").write_text(json.dumps(scores))
        print(f"{folder.name}: test R2 {scores['r2']:.4f} ({scores['seconds']} s)", flush=True)
    # Every (split, seed) fitted so far, by this call or an earlier one, shaped like table2.json.
    for path in sorted(data.glob("*/autogluon.json")):
        split, _ = path.parent.name.rsplit("-seed", 1)
        scores = json.loads(path.read_text())
        row = results.setdefault(split, {}).setdefault("AutoGluon", {name: [] for name in ("r2", "mse", "mae")})
        for name in row:
            row[name].append(scores[name])
    (data / "autogluon.json").write_text(json.dumps(results, indent=1))


def latency(folder: Path, repeats: int, threads: int) -> None:
    """Median seconds of ``predictor.predict`` on one test film and on 1,000, printed as JSON."""
    import os
    import statistics

    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)  # before numpy/torch load, as pel_torch caps its libraries
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor.load(str(folder / "model"), verbosity=0)
    test = pd.read_parquet(folder / "test.parquet").drop(columns="target")
    many = test.sample(1000, replace=True, random_state=0).reset_index(drop=True)
    predictor.persist()  # models in memory, as a serving process keeps them
    out = {"model": str(folder), "threads": threads, "repeats": repeats}
    for name, rows in (("single_row_ms", test.iloc[:1]), ("rows_1000_ms", many)):
        predictor.predict(rows)  # warm-up
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            predictor.predict(rows)
            seconds.append(time.perf_counter() - started)
        out[name] = round(1000 * statistics.median(seconds), 2)
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("export")
    step.add_argument("--out", type=Path, required=True)
    step.add_argument("--seeds", type=int, default=5)
    step.add_argument("--threads", type=int, default=2)
    step = steps.add_parser("fit")
    step.add_argument("--data", type=Path, required=True)
    step.add_argument("--time-limit", type=int, default=600)
    step.add_argument("--only", default="*", help="which (split, seed) folders, e.g. 'temporal-seed0'")
    step.add_argument("--threads", type=int, default=2)
    step = steps.add_parser("latency")
    step.add_argument("--model", type=Path, required=True, help="a fitted (split, seed) folder of step 2")
    step.add_argument("--repeats", type=int, default=20)
    step.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.step == "latency":
        latency(args.model, args.repeats, args.threads)
    elif args.step == "export":
        export(args.out, args.seeds, args.threads)
    else:
        fit(args.data, args.time_limit, args.threads, args.only)


if __name__ == "__main__":
    main()
