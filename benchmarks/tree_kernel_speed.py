"""The tree kernels on the ratings stack's LightGBM bag: rows/s of the C++ and torch kernels and of
LightGBM's own predict, on the same trees and rows.

    python benchmarks/tree_kernel_speed.py [--rows 20000] [--threads 1] [--repeats 7] [--json PATH]

The bag is the ratings stack's layer-1 LightGBM at its defaults (400 trees of at most 15 leaves,
depth <= 8), fitted on 5 folds of u1's training ratings; rows are u1's test ratings. Each timing
is the fastest of ``--repeats`` runs, the kernels interleaved, so a busy machine slows all alike.
Run it at two commits to measure a kernel change.
"""

import argparse
import time

import numpy as np
import torch

from common import add_speed_arguments, config, quiet_timing, write_report
from pel_torch.compile import to_torch
from pel_torch.compile.kernels import CPP, TORCH
from pel_torch.learners import make_learner
from pel_torch.pipeline import make_task
from pel_torch.stages import main_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_speed_arguments(parser, rows=20_000, repeats=7, threads=1)
    args = parser.parse_args()
    started = quiet_timing(args.threads)
    cfg = config(["task=ratings", "split=u1", "++features.film_table=null", f"threads={args.threads}"])
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    _, y = main_target(task, prepared)
    train, test = prepared.split.train, prepared.split.test[:args.rows]
    folds = np.array_split(np.random.default_rng(0).permutation(train), 5)
    learners = [make_learner("lightgbm", {}, seed=k, threads=args.threads).fit(prepared.features[np.setdiff1d(train, fold)],
                                                                                y[np.setdiff1d(train, fold)]) for k, fold in enumerate(folds)]
    modules = [to_torch(learner).double().eval() for learner in learners]
    x32 = prepared.features[test]
    x = torch.from_numpy(x32).double()
    paths = {"C++ kernel": lambda: [m(x) for m in modules], "torch kernel": None,
             "LightGBM predict": lambda: [learner.predict(x32) for learner in learners]}

    def with_kernel(kernel):
        def run():
            for m in modules:
                m.kernel = kernel
            return [m(x) for m in modules]
        return run

    paths["C++ kernel"], paths["torch kernel"] = with_kernel(CPP), with_kernel(TORCH)
    best = dict.fromkeys(paths, np.inf)
    with torch.inference_mode():
        reference = [p.numpy() for p in paths["torch kernel"]()]
        gap = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(paths["C++ kernel"](), reference))
        for _ in range(args.repeats):
            for name, run in paths.items():
                tic = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - tic)
    depth = [m.depth for m in modules]
    rates = {name: len(test) / seconds for name, seconds in best.items()}
    print(f"{len(modules)} LightGBM models x {len(modules[0].nodes)} trees (padded depth {max(depth)}), {len(test):,} rows, "
          f"{args.threads} thread(s); C++ against torch kernel: max abs difference {gap:.1e}")
    print("| path | rows/s |\n|---|---|\n" + "\n".join(f"| {name} | {rate:,.0f} |" for name, rate in rates.items()))
    if args.json:
        write_report(args.json, "tree_kernel_speed.py", started, results={"rows_per_s": rates, "cpp_max_abs_difference": gap},
                     meta={"rows": len(test), "threads": args.threads, "trees": len(modules) * len(modules[0].nodes)})


if __name__ == "__main__":
    main()
