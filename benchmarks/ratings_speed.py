"""Ratings per second of a ratings checkpoint: the compiled module alone, and a pairs file end to end.

    python benchmarks/ratings_speed.py --checkpoint checkpoints/scratch/X.safetensors [--rows 200000] [--every-learner] [--json docs/ratings_speed.json]

- ``module``: the compiled module (every learner of the stack and its heads, one torch module) on
  raw inputs already built, with the default kernels, median of ``--repeats`` calls;
- ``file``: ``predict_file`` on a CSV of (user, item) pairs drawn from the users and films the
  checkpoint was trained on, building each pair's inputs (the user's history, side features) and
  writing the output CSV: what ``python evaluate.py task=ratings predict.input=...`` costs.

``--per-learner`` adds each bagged learner's milliseconds for the rows, every fold model of it, on
one batch of ``LARGE_BATCH_SIZE`` rows scaled up: where the time goes.

``--every-learner`` also runs the last layer's learners the head gives no weight (the stack skips
them when predicting): what the same checkpoint cost before that skip.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common import add_speed_arguments, quiet_timing, rows_per_second, write_report
from pel_torch.checkpoint import load_checkpoint
from pel_torch.inference import LARGE_BATCH_SIZE, select_kernels
from pel_torch.predict import predict_file
from pel_torch.stack.blend import Blend
from pel_torch.stack.modules import EnsembleSelection
from pel_torch.tasks.ratings import RatingsTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    add_speed_arguments(parser, rows=200_000, repeats=3, threads=2)
    parser.add_argument("--every-learner", action="store_true", help="run the last layer's zero-weight learners too")
    parser.add_argument("--per-learner", action="store_true", help="also time each bagged learner of the stack")
    args = parser.parse_args()
    if args.every_learner:
        EnsembleSelection.models_to_run = lambda self: None
    started = quiet_timing(args.threads)
    task = RatingsTask()
    checkpoint = load_checkpoint(args.checkpoint, task)
    inputs, rng = checkpoint.inputs, np.random.default_rng(0)
    # Known users and films, undated: scored as of the latest training rating, after the user's whole history.
    pairs = pd.DataFrame({"user": rng.choice(list(inputs.users_), args.rows), "item": rng.choice(list(inputs.items_), args.rows)})
    raw = inputs.transform(pairs)
    model, kind = select_kernels(checkpoint.model, "auto", "cpu")
    module_rate = rows_per_second(model, raw, args.repeats, pad=kind == "compiled")
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp, "pairs.csv"), Path(tmp, "predicted.csv")
        pairs.to_csv(source, index=False)
        tic = time.perf_counter()
        predict_file(checkpoint, task, source, output)
        file_rate = args.rows / (time.perf_counter() - tic)
    print(f"{args.rows:,} ratings, {args.threads} threads, {kind} kernels" + (", every learner run" if args.every_learner else ""))
    print(f"| path | ratings/s |\n|---|---|\n| compiled module | {module_rate:,.0f} |\n| pairs file end to end | {file_rate:,.0f} |")
    per_learner = learner_milliseconds(model, raw, args.repeats) if args.per_learner else {}
    if per_learner:
        print(f"| learner | ms per {args.rows:,} ratings |\n|---|---|\n" + "\n".join(f"| {name} | {ms:,.0f} |" for name, ms in per_learner.items()))
    if args.json:
        write_report(args.json, "ratings_speed.py", started, results={"module_ratings_per_s": module_rate, "file_ratings_per_s": file_rate,
                                                              **({"learner_ms": per_learner} if per_learner else {})},
                     meta={"checkpoint": str(args.checkpoint), "rows": args.rows, "threads": args.threads, "kernels": kind,
                           "every_learner": args.every_learner})


def learner_milliseconds(model, raw: np.ndarray, repeats: int) -> dict[str, float]:
    """``{"member layer k name": ms}``: each bagged learner on its layer's inputs, for all of ``raw``'s rows."""
    members = model.members if isinstance(model, Blend) else [model]
    names = model.names if isinstance(model, Blend) else ["stack"]
    x, timings = torch.from_numpy(raw[:LARGE_BATCH_SIZE]), {}
    with torch.inference_mode():
        for member_name, member in zip(names, members):
            stack, raw_inputs = member.stack, member.stack_inputs(x)
            z = stack.standardize(raw_inputs).to(stack.head.weights.dtype)
            inputs = z
            for depth, (layer, outputs) in enumerate(zip(stack.layers, stack.layer_outputs(raw_inputs)), start=1):
                for name, bagged in zip(layer.names, layer.learners):
                    bagged(inputs)   # warm-up
                    seconds = []
                    for _ in range(repeats):
                        tic = time.perf_counter()
                        bagged(inputs)
                        seconds.append(time.perf_counter() - tic)
                    timings[f"{member_name} layer {depth} {name}"] = 1e3 * statistics.median(seconds) * len(raw) / len(x)
                inputs = stack._next_inputs(outputs, z)
    return timings


if __name__ == "__main__":
    main()
