"""Rows per second of the compiled torch stack against the native libraries' predictions of the same stack.

    python benchmarks/inference.py [--threads 2] [--sizes 1000 10000 100000] [--compile] [--sweep 256 1024 ...]
                                   [--autogluon-python agvenv/bin/python --autogluon-model checkpoints/autogluon/temporal-seed0] [--json]

Fits the default stack on the temporal split's rating table (as the pretrain stage does), then
scores rows drawn from all 17,472 films: natively (each library's own predict on all rows at once,
fold models averaged, layer by layer) and through the torch module with each kind of tree kernel
(``pel_torch.inference.select_kernels``): ``cpp`` (the default, ``kernels=auto`` on CPU), eager
``torch``, and with ``--compile`` ``compiled``. Each kind runs at its preferred batch size.
``ratio`` is native seconds / C++-kernel seconds. Medians over repeats; peak memory is the
resident-memory growth during the first call.
"""

import argparse
import copy
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import QUICK, config, fit_default_stack, peak_memory, rating_table
from pel_torch.compile import compile_stack
from pel_torch.inference import predict_batches, preferred_batch_size, select_kernels


def timed(function, repeats: int) -> tuple[float, float, np.ndarray]:
    """Median seconds over ``repeats``, peak MiB of the first run, and the result."""
    seconds = []
    with peak_memory() as memory:
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    for _ in range(repeats - 1):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), memory["mib"], result


def batch_size_sweep(modules, ensemble, featurizer, raw, sizes, repeats) -> list[dict]:
    """Rows/s of native predict and of each torch module, all fed ``raw`` in batches of each size."""
    def native(batch_size):
        return np.concatenate([ensemble.predict(featurizer.standardize(raw[i:i + batch_size])) for i in range(0, len(raw), batch_size)])
    rows = []
    for batch_size in sizes:
        row = {"batch_size": batch_size, "rows_per_s_native": round(len(raw) / timed(lambda: native(batch_size), repeats)[0])}
        for kind, module in modules.items():
            seconds = timed(lambda: predict_batches(module, raw, batch_size=batch_size), repeats)[0]
            row[f"rows_per_s_{kind}"] = round(len(raw) / seconds)
        rows.append(row)
    return rows


def plot_sweep(sweep, kinds, path, n_rows, threads) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"native": "native libraries", "cpp": "torch stack, C++ kernels (default)", "torch": "torch stack, eager torch kernels"}
    figure, axis = plt.subplots(figsize=(6, 4))
    sizes = [r["batch_size"] for r in sweep]
    for kind in ["native", *kinds]:
        axis.plot(sizes, [r[f"rows_per_s_{kind}"] for r in sweep], marker="o", label=labels[kind])
    axis.set_xscale("log", base=2)
    axis.set_xlabel("batch size (rows)")
    axis.set_ylabel("rows / s")
    axis.set_title(f"default stack, {n_rows:,} rows, CPU {threads} threads")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def autogluon_latency(python: str, model: str, threads: int) -> dict:
    """AutoGluon's own predict latency, measured in its virtualenv by compare_autogluon.py."""
    script = Path(__file__).with_name("compare_autogluon.py")
    done = subprocess.run([python, str(script), "latency", "--model", model, "--threads", str(threads)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd kernels (Inductor; needs a C++ compiler)")
    parser.add_argument("--sweep", type=int, nargs="*", default=[], help="batch sizes to time native, C++ and eager torch at --sweep-rows")
    parser.add_argument("--sweep-rows", type=int, default=20000)
    parser.add_argument("--plot", default=None, help="write the batch-size sweep as a PNG here")
    parser.add_argument("--autogluon-python", default=None, help="python of an AutoGluon virtualenv, for its single-row latency")
    parser.add_argument("--autogluon-model", default=None, help="a fitted folder of compare_autogluon.py fit")
    parser.add_argument("--quick", action="store_true", help="tiny learners: checks the script runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cfg = config([f"threads={args.threads}"] + (QUICK if args.quick else []))
    prepared, rows, y, raw_all = rating_table(cfg)
    ensemble, _ = fit_default_stack(cfg, prepared.features[rows], y, progress=not args.json)
    stack = compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_)
    featurizer = prepared.inputs
    modules = {kind: select_kernels(copy.deepcopy(stack), kind)[0] for kind in ("cpp", "torch")}
    compile_seconds = None
    if args.compile:
        started = time.perf_counter()
        modules["compiled"] = select_kernels(copy.deepcopy(stack), "compiled")[0]
        predict_batches(modules["compiled"], raw_all[:preferred_batch_size(modules["compiled"])], pad=True)
        compile_seconds = round(time.perf_counter() - started, 1)
    rng = np.random.default_rng(0)
    results = []
    for size in args.sizes:
        raw = raw_all[rng.integers(0, len(raw_all), size)]
        native_s, native_mib, native = timed(lambda: ensemble.predict(featurizer.standardize(raw)), args.repeats)
        result = {"rows": size, "rows_per_s_native": round(size / native_s), "peak_mib_native": round(native_mib, 1)}
        for kind, module in modules.items():
            seconds, mib, out = timed(lambda: predict_batches(module, raw, pad=kind == "compiled"), args.repeats)
            result.update({f"rows_per_s_{kind}": round(size / seconds), f"ratio_{kind}": round(native_s / seconds, 3),
                           f"peak_mib_{kind}": round(mib, 1), f"max_abs_diff_{kind}": float(np.abs(out - native).max())})
        result["ratio"] = result["ratio_cpp"]
        results.append(result)
    one = raw_all[:1]
    latency = {"native_ms": round(1000 * timed(lambda: ensemble.predict(featurizer.standardize(one)), 20)[0], 2)}
    for kind in ("cpp", "torch"):
        latency[f"{kind}_ms"] = round(1000 * timed(lambda: predict_batches(modules[kind], one), 20)[0], 2)
    if args.autogluon_python and args.autogluon_model:
        latency["autogluon"] = autogluon_latency(args.autogluon_python, args.autogluon_model, args.threads)
    sweep_kinds = ["cpp", "torch"]
    sweep = batch_size_sweep({k: modules[k] for k in sweep_kinds}, ensemble, featurizer,
                             raw_all[rng.integers(0, len(raw_all), args.sweep_rows)], args.sweep, args.repeats) if args.sweep else []
    if args.plot and sweep:
        plot_sweep(sweep, sweep_kinds, args.plot, args.sweep_rows, args.threads)
    meta = {"threads": args.threads, "batch_sizes": {k: preferred_batch_size(m) for k, m in modules.items()}, "repeats": args.repeats,
            "quick": args.quick, "compile_seconds": compile_seconds, "torch": torch.__version__, "trained_rows": int(len(y)),
            "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/inference.py " + " ".join(sys.argv[1:])}
    if args.json:
        print(json.dumps({**meta, "results": results, "sweep": sweep, "single_row_latency": latency}))
        return
    kinds = list(modules)
    header = ["rows", "native rows/s"] + [f"{k} rows/s" for k in kinds] + [f"ratio {k}" for k in kinds] + ["peak MiB cpp / native", "max abs diff cpp"]
    print("| " + " | ".join(header) + " |\n|" + "---:|" * len(header))
    for r in results:
        cells = [f"{r['rows']:,}", f"{r['rows_per_s_native']:,}"] + [f"{r[f'rows_per_s_{k}']:,}" for k in kinds]
        cells += [f"{r[f'ratio_{k}']:.2f}" for k in kinds] + [f"{r['peak_mib_cpp']:.0f} / {r['peak_mib_native']:.0f}", f"{r['max_abs_diff_cpp']:.1e}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nsingle-row latency (median of 20): {latency}")


if __name__ == "__main__":
    main()
