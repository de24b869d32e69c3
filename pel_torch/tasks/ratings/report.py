"""The ratings report: the stack and every learner in it, on GroupLens's u1 fold, its five folds and user_temporal.

    python evaluate.py task=ratings report=full        # reports/ratings.md and reports/ratings.json

For each split the configured stack is fitted once on the training ratings, as ``stage=scratch``
fits it (learners bagged over ``stack.n_folds`` folds, the head chosen on validation). Rows:
- ``stack``: that compiled stack;
- ``stack, pretrained``: the stack pretrained on implicit feedback (which films each user rated),
  fine-tuned on the ratings and headed with ``stack``, as ``stage=pretrain`` then ``stage=finetune`` do;
- every learner of the stack, bagged as in the stack, read from the same compiled module
  (``layer 1 mf``, ...), so every row is scored on the same test ratings by the same fit;
- ``global mean`` and ``user + film biases`` (baselines.py), fitted on the training ratings.
``folds`` runs u1 .. u5 and lists one number per fold; u1's run is shared with the ``u1`` row.
Published numbers, from other people's models and runs, are printed beside ours and labelled as such.
"""

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import load_checkpoint
from pel_torch.errors import PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.pipeline import make_task, packaged_split, report_mode
from pel_torch.stages import finetune, main_target, pretrain, scratch
from pel_torch.tasks.ratings.baselines import global_mean, user_film_biases
from pel_torch.tasks.ratings.splits import U_FOLDS

log = logging.getLogger(__name__)
PROTOCOLS = {"u1": ("u1",), "folds": U_FOLDS, "user_temporal": ("user_temporal",)}
METRICS = ("rmse", "mae")
BATCH = 8192
STACK, PRETRAINED = "stack", "stack, pretrained"
BASELINES = {"global mean": global_mean, "user + film biases": user_film_biases}
# Their models, their runs: RMSE on ML-100K (issue 9; Surprise's README for its 5-fold table).
PUBLISHED = {
    "u1": {"GLocal-K (picked its epoch on the test set)": 0.889, "MG-GAT": 0.890, "GraphRec with features": 0.897,
           "IGMC": 0.905, "GC-MC": 0.905},
    "folds": {"SVD++ (Surprise, random 5-fold CV)": 0.919, "KNNBaseline (Surprise, random 5-fold CV)": 0.931,
              "SVD (Surprise, random 5-fold CV)": 0.934, "BaselineOnly (Surprise, random 5-fold CV)": 0.944},
}
QUICK = {"stack": {"n_folds": 2, "layers": [["mf", "lightgbm"], ["linear"]],
                   "learners": {"mf": {"max_epochs": 1}, "lightgbm": {"n_estimators": 20}}},
         "finetune": {"max_epochs": 1}}


def run_report(cfg: DictConfig) -> list[Path]:
    """Runs every split the protocols need, once each, and rewrites the reports as each one's rows come in."""
    mode = report_mode(cfg)
    protocols = list(cfg.report_splits)
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise PelError(f"report_splits: unknown {', '.join(unknown)}; choose from {', '.join(PROTOCOLS)}")
    if cfg.data.source != "movielens":
        log.info("report: u1 .. u5 are the first to fifth 20%% of %s in file order, as GroupLens cut ML-100K", cfg.data.source)
    splits = list(dict.fromkeys(split for protocol in protocols for split in PROTOCOLS[protocol]))
    out = Path(cfg.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    started, runs = time.perf_counter(), {}
    for split in splits:
        run_cfg = _split_config(cfg, split)
        for runs[split], data in _one_split(run_cfg):
            results = {p: _gather([runs[s] for s in PROTOCOLS[p] if s in runs]) for p in protocols}
            meta = {"data": data, "date": time.strftime("%Y-%m-%d"), "seconds": round(time.perf_counter() - started),
                    "splits_done": [s for s in runs if PRETRAINED in runs[s]], "mode": mode, "published": PUBLISHED,
                    "command": f"python evaluate.py task=ratings report={mode} threads={cfg.threads} "
                               f"report_splits=[{','.join(protocols)}]",
                    "stack": f"stack.layers={OmegaConf.to_container(run_cfg.stack.layers)} stack.n_folds={run_cfg.stack.n_folds}"}
            (out / "ratings.json").write_text(json.dumps({**results, "meta": meta}, indent=1))
            (out / "ratings.md").write_text(format_report(results, meta))
        log.info("report: %s done after %.0f s", split, time.perf_counter() - started)
    return [out / "ratings.json", out / "ratings.md"]


def _split_config(cfg: DictConfig, split: str) -> DictConfig:
    split_cfg = packaged_split(split)
    run = OmegaConf.merge(cfg, {"split": split_cfg, "ckpt_path": None,
                                "checkpoints_dir": str(Path(cfg.checkpoints_dir, "ratings_report", split))})
    if report_mode(cfg) == "quick":
        OmegaConf.set_struct(run, False)  # quick mode sets learner settings the defaults leave open
        run = OmegaConf.merge(run, QUICK)
    return run


def _one_split(cfg: DictConfig) -> Iterator[tuple[dict[str, dict[str, float]], str]]:
    """``{model: {metric: value}}`` on the split's test ratings, and what was read: first without the
    pretrained stack (hours may separate the two on a large file), then with it."""
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    scale, y = main_target(task, prepared)
    el = scratch(OmegaConf.merge(cfg, {"stage": "scratch"}), prepared)
    checkpoint = load_checkpoint(el.checkpoint, task)
    scores = {STACK: _test_scores(cfg, task, checkpoint)}
    stack = checkpoint.model.member("scratch").double().eval()
    test = prepared.split.test
    with torch.no_grad():  # in batches: a layer's outputs for every test rating at once could fill the memory
        batches = [stack.stack.layer_outputs(torch.as_tensor(prepared.raw[test[i:i + BATCH]])) for i in range(0, len(test), BATCH)]
    layers = [torch.cat([batch[depth] for batch in batches]) for depth in range(len(stack.stack.layers))]
    for depth, (layer, outputs) in enumerate(zip(stack.stack.layers, layers)):
        for j, name in enumerate(layer.names):
            scores[f"layer {depth + 1} {name}"] = task.metrics(y[test], outputs[:, j].numpy(), scale)
    table = prepared.table
    for name, baseline in BASELINES.items():
        predicted = baseline(table.iloc[prepared.split.train], table.iloc[test])
        scores[name] = task.metrics(y[test], scale.encode(predicted), scale)
    yield scores, task.describe(cfg, prepared)
    pretrained = pretrain(OmegaConf.merge(cfg, {"stage": "pretrain"}))
    tuned = finetune(OmegaConf.merge(cfg, {"stage": "finetune", "ckpt_path": str(pretrained.checkpoint),
                                           "finetune": {"blend_ckpt": str(el.checkpoint)}}))
    scores[PRETRAINED] = _test_scores(cfg, task, load_checkpoint(tuned.checkpoint, task))
    yield scores, task.describe(cfg, prepared)


def _test_scores(cfg, task, checkpoint) -> dict[str, float]:
    metrics = evaluate_checkpoint(cfg, task, checkpoint)
    return {name: metrics[f"test/{name}"] for name in METRICS}


def _gather(runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Per model, one number per run; a model some run has not scored yet waits."""
    models = [m for m in runs[0] if all(m in run for run in runs)]
    return {model: {metric: [run[model][metric] for run in runs] for metric in METRICS} for model in models}


def format_report(results: dict, meta: dict) -> str:
    lines = [f"# Ratings report ({meta['date']})", "", f"Data: {meta['data']}.", "",
             f"Command: `{meta['command']}` ({meta['seconds']} s; splits done: {', '.join(meta['splits_done']) or 'none yet'}).",
             f"Stack: `{meta['stack']}`.",
             "RMSE and MAE in stars on each split's test ratings; over folds, mean ± std with one number per fold.",
             f"`{STACK}` is the compiled stack with its head chosen on validation; `layer k name` is one of its bagged",
             f"learners, read from the same module; `{PRETRAINED}` adds the stack pretrained on which films each user rated.", ""]
    for protocol, rows in results.items():
        stack = np.asarray(rows[STACK]["rmse"])
        lines += [f"## {protocol}", "", "| model | RMSE | MAE | RMSE minus stack, paired |", "|---|---|---|---|"]
        for model, row in sorted(rows.items(), key=lambda item: np.mean(item[1]["rmse"])):
            gap = np.asarray(row["rmse"]) - stack
            paired = "" if model == STACK else f"{_mean_std(gap)} (lower on {int((gap < 0).sum())} of {len(gap)})"
            name = f"**{model}**" if model in (STACK, PRETRAINED) else model
            lines.append(f"| {name} | {_mean_std(row['rmse'])} | {_mean_std(row['mae'])} | {paired} |")
        if protocol in meta["published"]:
            lines += ["", "Published RMSE, their models and runs (not ours): "
                      + "; ".join(f"{name} {value:.3f}" for name, value in meta["published"][protocol].items()) + "."]
        lines.append("")
    return "\n".join(lines)


def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f}" if len(values) == 1 else f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"
