"""Rows per second of the compiled torch stack against the native libraries' predictions of the same stack.

    python benchmarks/inference.py [--threads 2] [--sizes 1000 10000 100000] [--json]

Fits the default stack on the temporal split's rating table (as the pretrain stage does), then
scores rows drawn from all 17,472 films: natively (each library's own predict, fold models
averaged, layer by layer) and through the compiled module (one forward, batched). Medians over
repeats; peak memory is the resident-memory growth during the call.
"""

import argparse
import copy
import json
import logging
import statistics
import sys
import time

import numpy as np
import torch

from common import QUICK, config, fit_default_stack, peak_memory, rating_table
from pel_torch.compile import compile_stack
from pel_torch.inference import compile_trees, predict_batches


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


def batch_size_sweep(stack, ensemble, featurizer, raw, sizes, repeats) -> list[dict]:
    """Rows/s of the eager torch stack and of native predict, both fed ``raw`` in batches of each size."""
    def native(batch_size):
        return np.concatenate([ensemble.predict(featurizer.standardize(raw[i:i + batch_size])) for i in range(0, len(raw), batch_size)])
    rows = []
    for batch_size in sizes:
        native_s, _, _ = timed(lambda: native(batch_size), repeats)
        torch_s, _, _ = timed(lambda: predict_batches(stack, raw, batch_size=batch_size), repeats)
        rows.append({"batch_size": batch_size, "rows_per_s_native": round(len(raw) / native_s), "rows_per_s_torch": round(len(raw) / torch_s)})
    return rows


def plot_sweep(sweep, path, n_rows, threads) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4))
    sizes = [r["batch_size"] for r in sweep]
    axis.plot(sizes, [r["rows_per_s_native"] for r in sweep], marker="o", label="native libraries")
    axis.plot(sizes, [r["rows_per_s_torch"] for r in sweep], marker="o", label="compiled torch stack (eager)")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("batch size (rows)")
    axis.set_ylabel("rows / s")
    axis.set_title(f"default stack, {n_rows:,} rows, CPU {threads} threads")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--compile", action="store_true", help="torch.compile the stack (Inductor; needs a C++ compiler on CPU)")
    parser.add_argument("--sweep", type=int, nargs="*", default=[], help="batch sizes to time torch (eager) and native at --sweep-rows")
    parser.add_argument("--sweep-rows", type=int, default=20000)
    parser.add_argument("--plot", default=None, help="write the batch-size sweep as a PNG here")
    parser.add_argument("--quick", action="store_true", help="tiny learners: checks the script runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cfg = config([f"threads={args.threads}"] + (QUICK if args.quick else []))
    prepared, rows, y, raw_all = rating_table(cfg)
    ensemble, _ = fit_default_stack(cfg, prepared.features[rows], y, progress=not args.json)
    stack = compile_stack(ensemble, prepared.featurizer.mean_, prepared.featurizer.std_)
    featurizer = prepared.featurizer
    compiled_stack, compile_seconds = None, None
    if args.compile:
        started = time.perf_counter()
        compiled_stack = compile_trees(copy.deepcopy(stack))
        predict_batches(compiled_stack, raw_all[:args.batch_size], batch_size=args.batch_size, pad=True)
        compile_seconds = round(time.perf_counter() - started, 1)
    rng = np.random.default_rng(0)
    results = []
    for size in args.sizes:
        raw = raw_all[rng.integers(0, len(raw_all), size)]
        native_s, native_mib, native = timed(lambda: ensemble.predict(featurizer.standardize(raw)), args.repeats)
        torch_s, torch_mib, eager = timed(lambda: predict_batches(stack, raw, batch_size=args.batch_size), args.repeats)
        result = {"rows": size, "rows_per_s_torch": round(size / torch_s), "rows_per_s_native": round(size / native_s),
                  "ratio": round(native_s / torch_s, 3), "peak_mib_torch": round(torch_mib, 1), "peak_mib_native": round(native_mib, 1),
                  "max_abs_diff": float(np.abs(eager - native).max())}
        if compiled_stack is not None:
            fused_s, fused_mib, fused = timed(lambda: predict_batches(compiled_stack, raw, batch_size=args.batch_size, pad=True), args.repeats)
            result.update({"rows_per_s_compiled": round(size / fused_s), "ratio_compiled": round(native_s / fused_s, 3),
                           "peak_mib_compiled": round(fused_mib, 1), "max_abs_diff_compiled": float(np.abs(fused - native).max())})
        results.append(result)
    one = raw_all[:1]
    latency = {"native_ms": round(1000 * timed(lambda: ensemble.predict(featurizer.standardize(one)), 20)[0], 2),
               "torch_ms": round(1000 * timed(lambda: predict_batches(stack, one), 20)[0], 2)}
    sweep = batch_size_sweep(stack, ensemble, featurizer, raw_all[rng.integers(0, len(raw_all), args.sweep_rows)],
                             args.sweep, args.repeats) if args.sweep else []
    if args.plot and sweep:
        plot_sweep(sweep, args.plot, args.sweep_rows, args.threads)
    meta = {"threads": args.threads, "batch_size": args.batch_size, "repeats": args.repeats, "quick": args.quick,
            "compiled": args.compile, "compile_seconds": compile_seconds,
            "torch": torch.__version__, "trained_rows": int(len(y)), "date": time.strftime("%Y-%m-%d")}
    if args.json:
        print(json.dumps({**meta, "results": results, "sweep": sweep, "single_row_latency": latency}))
        return
    compiled = ["compiled rows/s", "ratio (compiled)"] if args.compile else []
    header = ["rows", "native rows/s", "torch rows/s", "ratio (torch/native speed)", *compiled, "peak MiB torch", "peak MiB native", "max abs diff"]
    print("| " + " | ".join(header) + " |\n|" + "---:|" * len(header))
    for r in results:
        cells = [f"{r['rows']:,}", f"{r['rows_per_s_native']:,}", f"{r['rows_per_s_torch']:,}", f"{r['ratio']:.2f}"]
        cells += [f"{r['rows_per_s_compiled']:,}", f"{r['ratio_compiled']:.2f}"] if args.compile else []
        cells += [f"{r['peak_mib_torch']:.0f}", f"{r['peak_mib_native']:.0f}", f"{r['max_abs_diff']:.1e}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nsingle-row latency (median of 20): native {latency['native_ms']} ms, torch {latency['torch_ms']} ms")

if __name__ == "__main__":
    main()
