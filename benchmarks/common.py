"""Shared by the benchmarks: the embedded data, a fitted default stack, and a peak-memory probe."""

import json
import shlex
import statistics
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
from hydra import compose, initialize_config_module
from pathlib import Path

from pel_torch.checkpoint import load_checkpoint
from pel_torch.evaluation import checkpoint_config
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, select_kernels
from pel_torch.pipeline import build_stack, make_task
from pel_torch.stack.blend import Blend
from pel_torch.tasks.box_office import BoxOfficeTask
from pel_torch.tasks.box_office.targets import target_values

QUICK = ["++stack.learners.catboost.iterations=60", "++stack.learners.random_forest.n_estimators=30",
         "++stack.learners.lightgbm.n_estimators=60", "++stack.learners.xgboost.n_estimators=60",
         "++stack.learners.neural_net.max_epochs=5"]


def config(overrides: list[str]):
    with initialize_config_module(config_module="pel_torch.configs", version_base="1.3"):
        return compose("train", overrides=overrides)


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``--variant NAME=OVERRIDE [OVERRIDE ...]``: the name and its Hydra overrides."""
    name, _, overrides = text.partition("=")
    if not name or not overrides:
        raise SystemExit(f"--variant {text!r}: give NAME=OVERRIDE [OVERRIDE ...]")
    return name.strip(), shlex.split(overrides)


def rating_table(cfg):
    """The pretraining rows (rated films allowed by the split) with their rating target, and all films' raw features."""
    prepared = make_task(cfg).prepare(cfg)
    rows = prepared.split.pretrain
    y = target_values(prepared.table, "rating")[rows]
    rows, y = rows[~np.isnan(y)], y[~np.isnan(y)]
    return prepared, rows, y, prepared.raw


def fit_default_stack(cfg, X, y, progress=True):
    started = time.perf_counter()
    ensemble = build_stack(cfg, progress=progress).fit(X, y)
    return ensemble, time.perf_counter() - started


def add_table2_run_arguments(parser) -> None:
    """The options of the benchmarks that work on an ``evaluate.py table2=full`` run's checkpoints."""
    parser.add_argument("--checkpoints", default="checkpoints/table2", help="checkpoints_dir/table2 of a table2=full run")
    parser.add_argument("--splits", nargs="+", default=["random", "temporal"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--autogluon", default="docs/autogluon.json", help="compare_autogluon.py's scores, if any")
    parser.add_argument("--json", default=None)


def read_json(path, label: str, hint: str):
    """The JSON at ``path``; a missing or unreadable file stops with one line: ``label``, the reason, ``hint``."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"{label}: cannot read it as JSON ({error.__class__.__name__}: {error}); {hint}") from None


def load_autogluon(path) -> dict:
    """compare_autogluon.py's scores (``{split: {"AutoGluon": {"r2": [...]}}}``), or ``{}`` where it has not run."""
    return read_json(path, f"--autogluon {path}", "pass compare_autogluon.py's autogluon.json") if Path(path).is_file() else {}


def paired_cells(rows: list[dict], model: str, base: str, base_scores=None) -> str:
    """``R2 mean ± std | base | paired gain mean ± std | k of n`` of ``model`` over ``base`` (or ``base_scores``), by seed."""
    r2 = np.array([r[model]["r2"] for r in rows])
    reference = np.array(base_scores if base_scores is not None else [r[base]["r2"] for r in rows])
    gain = r2 - reference
    return (f"{r2.mean():.3f} ± {r2.std(ddof=1):.3f} | {base} | "
            f"{gain.mean():+.3f} ± {gain.std(ddof=1):.3f} | {(gain > 0).sum()} of {len(rows)}")


def add_speed_arguments(parser, *, rows: int, repeats: int, threads: int) -> None:
    """``--rows --repeats --threads --json``: the options of the benchmarks that time predictions."""
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--json", default=None)


def quiet_timing(threads: int) -> float:
    """Logging off and every library on ``threads`` threads; the start time, for ``write_report``."""
    import logging
    import torch

    from pel_torch.threads import limit_threads

    logging.disable(logging.INFO)
    limit_threads(threads)
    torch.set_num_threads(threads)
    return time.perf_counter()


def rows_per_second(model, raw: np.ndarray, repeats: int, pad: bool = False) -> float:
    """``model`` on ``raw`` through ``predict_batches``: rows/s, the median of ``repeats`` timed passes after a warm-up."""
    predict_batches(model, raw[:1000], pad=pad)
    seconds = []
    for _ in range(repeats):
        tic = time.perf_counter()
        predict_batches(model, raw, pad=pad)
        seconds.append(time.perf_counter() - tic)
    return len(raw) / statistics.median(seconds)


def write_report(path, script: str, started: float, **payload) -> None:
    """``payload`` as JSON at ``path``, under a ``meta`` with the command that made it, the date and the seconds since ``started``."""
    meta = {"command": f"python benchmarks/{script} " + shlex.join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
            "seconds": round(time.perf_counter() - started), **payload.pop("meta", {})}
    Path(path).write_text(json.dumps({"meta": meta, **payload}, indent=1))


def split_predictions(cfg, path: Path, members: bool = False, prepared=None) -> dict:
    """``{"val": (y, prediction), "test": (y, prediction)}`` of a box-office checkpoint on its own split;
    ``members``: each member's prediction ``(n, n_members)`` instead of the head's; ``prepared``: the
    split's films, already loaded (the checkpoint's own featurizer still makes the features)."""
    task = BoxOfficeTask()
    checkpoint = load_checkpoint(path, task)
    if prepared is None:
        prepared = task.prepare(checkpoint_config(cfg, checkpoint), inputs=checkpoint.inputs)
    raw = checkpoint.inputs.transform_raw(prepared.table)
    y = TargetScale.from_dict(checkpoint.spec["target"]).encode(task.target_values(prepared.table, "revenue"))
    model, _ = select_kernels(checkpoint.model, "auto")
    heads = [Blend([member], [name]) for name, member in zip(model.names, model.members)] if members else [model]

    def predictions(rows):
        out = np.column_stack([predict_batches(head, raw[rows]) for head in heads])
        return out if members else out[:, 0]

    return {part: (y[rows], predictions(rows)) for part, rows in (("val", prepared.split.val), ("test", prepared.split.test))}


@contextmanager
def peak_memory():
    """Yields a dict whose ``mib`` is the peak resident-memory growth (MiB) inside the block, sampled every 2 ms."""
    import psutil  # the bench extra: pip install -e ".[bench]"

    process = psutil.Process()
    baseline = process.memory_info().rss
    result, done = {"mib": 0.0}, threading.Event()

    def sample():
        peak = baseline
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)
        result["mib"] = (max(peak, process.memory_info().rss) - baseline) / 2**20

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()


def paired_runs(description: str, read, what: str, model_example: str, base_example: str):
    """The command line of the pairing scripts: ``run model base_run base``; ``read(path, model)`` gives
    ``{part: scores}``. Returns the two parts' dicts and the arguments, or stops in one line when they share no ``what``."""
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("model", help=f"a model of the run, e.g. {model_example}")
    parser.add_argument("base_run", type=Path)
    parser.add_argument("base", help=f"a model of the base run, e.g. {base_example}")
    args = parser.parse_args()
    model, base = read(args.run, args.model), read(args.base_run, args.base)
    if not set(model) & set(base):
        raise SystemExit(f"{args.run} and {args.base_run} share no {what} ({', '.join(model)} vs {', '.join(base)})")
    return model, base, args
