"""Batch prediction on a synthetic 1,000,000-film table: time and peak memory of ``evaluate.py``.

    python benchmarks/predict_million.py --ckpt checkpoints/finetune/X.safetensors [--rows 1000000] [--kernels auto|cpp|torch|compiled] [--json]

The table is the embedded films drawn with replacement, each with a unique id, written to
Parquet. Prediction runs as its own process, exactly as a user runs it; its peak resident memory
is sampled from outside, so the number includes Python, torch and the model.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from pel_torch.data import load_films

ROOT = Path(__file__).resolve().parents[1]


def synthetic_table(rows: int, path: Path) -> None:
    films, _ = load_films("wikidata")
    sample = films.iloc[np.random.default_rng(0).integers(0, len(films), rows)].reset_index(drop=True)
    sample["id"] = [f"synthetic-{i}" for i in range(rows)]
    sample.drop(columns=["revenue", "rating", "votes"]).to_parquet(path, index=False)


def run_with_peak(command: list[str]) -> tuple[int, float, float, str]:
    """Exit code, seconds and peak resident MiB (process and children) of ``command``."""
    started, peak = time.perf_counter(), 0
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            members = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(member.memory_info().rss for member in members))
        except psutil.Error:
            pass
        time.sleep(0.05)
    return process.returncode, time.perf_counter() - started, peak / 2 ** 20, process.stdout.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="a finetune or scratch checkpoint")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kernels", default="auto", choices=["auto", "cpp", "torch", "compiled"], help="evaluate.py kernels=")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        source, output = Path(work, "films.parquet"), Path(work, "predictions.csv")
        synthetic_table(args.rows, source)
        command = [sys.executable, "evaluate.py", f"ckpt_path={args.ckpt}", f"predict.input={source}", f"predict.output={output}",
                   f"threads={args.threads}", f"kernels={args.kernels}", "hydra.run.dir=" + str(Path(work, "hydra"))]
        code, seconds, peak_mib, log = run_with_peak(command)
        if code != 0:
            sys.exit(f"prediction failed ({code}):\n{log[-3000:]}")
        lines = sum(1 for _ in open(output)) - 1
        scored = int(pd.read_csv(output, usecols=["reason"], keep_default_na=False)["reason"].eq("").sum())
    result = {"rows": args.rows, "output_rows": lines, "scored": scored, "seconds": round(seconds, 1),
              "rows_per_s": round(args.rows / seconds), "peak_mib": round(peak_mib), "kernels": args.kernels,
              "threads": args.threads, "date": time.strftime("%Y-%m-%d"), "command": " ".join(["python", *sys.argv])}
    print(json.dumps(result) if args.json else
          f"{lines:,} rows written ({scored:,} scored) in {seconds / 60:.1f} min = {result['rows_per_s']:,} rows/s; "
          f"peak memory {peak_mib:,.0f} MiB (whole process)")


if __name__ == "__main__":
    main()
