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
from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import load_checkpoint, reusable_checkpoint
from pel_torch.errors import PelError
from pel_torch.inference import learner_predictions, predict_batches, select_training_kernels
from pel_torch.pipeline import make_task, other_overrides, packaged_split, report_mode
from pel_torch.stages import finetune, main_target, pretrain, scratch
from pel_torch.tasks.ratings import cold_warm
from pel_torch.tasks.ratings.baselines import global_mean, user_film_biases
from pel_torch.tasks.ratings.recommend import POPULARITY, evaluate_ranking
from pel_torch.tasks.ratings.splits import U_FOLDS

log = logging.getLogger(__name__)
PROTOCOLS = {"u1": ("u1",), "folds": U_FOLDS, "user_temporal": ("user_temporal",)}
METRICS = ("rmse", "mae")
STACK, PRETRAINED = "stack", "stack, pretrained"
IMPLICIT = "implicit-feedback stack (the pretraining)"   # ranks by how likely the user is to rate a film, not by stars
# Top-N is measured where the test ratings are each user's next ones; u1's are a block of the file.
TOP_N_SPLITS = ("user_temporal",)
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
    started, runs, extras = time.perf_counter(), {}, {"cold_warm": {}, "top_n": {}}
    for split in splits:
        run_cfg = _split_config(cfg, split)
        for runs[split], extra, data in _one_split(run_cfg):
            for name, table in extra.items():
                extras[name][split] = table
            # A protocol none of whose splits has run yet waits (user_temporal while u1 runs).
            results = {p: _gather(done) for p in protocols if (done := [runs[s] for s in PROTOCOLS[p] if s in runs])}
            meta = {"data": data, "date": time.strftime("%Y-%m-%d"), "seconds": round(time.perf_counter() - started),
                    "splits_done": [s for s in runs if PRETRAINED in runs[s]], "mode": mode, "published": PUBLISHED,
                    "command": f"python evaluate.py task=ratings report={mode} threads={cfg.threads} "
                               f"report_splits=[{','.join(protocols)}]" + other_overrides(("report=", "report_splits=")),
                    "stack": f"stack.layers={OmegaConf.to_container(run_cfg.stack.layers)} stack.n_folds={run_cfg.stack.n_folds}",
                    "top_n": {"k": cfg.recommend.k, "relevant_from": cfg.recommend.relevant_from}}
            figure = cold_warm.plot(extras["cold_warm"][split], f"{split}: test RMSE by how many ratings the user had before",
                                    out / f"ratings_cold_warm_{split}.png", highlight=(STACK, PRETRAINED),
                                    leave_out=("global mean",))   # its 1.2 to 1.5 stars would flatten every other line
            (out / "ratings.json").write_text(json.dumps({**results, **extras, "meta": meta}, indent=1))
            (out / "ratings.md").write_text(format_report(results, extras, meta))
        log.info("report: %s done after %.0f s (%s)", split, time.perf_counter() - started, figure)
    return [out / "ratings.json", out / "ratings.md", *sorted(out.glob("ratings_cold_warm_*.png"))]


def _split_config(cfg: DictConfig, split: str) -> DictConfig:
    split_cfg = packaged_split(split)
    run = OmegaConf.merge(cfg, {"split": split_cfg, "ckpt_path": None,
                                "checkpoints_dir": str(Path(cfg.checkpoints_dir, "ratings_report", split))})
    if report_mode(cfg) == "quick":
        OmegaConf.set_struct(run, False)  # quick mode sets learner settings the defaults leave open
        run = OmegaConf.merge(run, QUICK)
    return run


def _one_split(cfg: DictConfig) -> Iterator[tuple[dict[str, dict[str, float]], dict, str]]:
    """``{model: {metric: value}}`` on the split's test ratings, the split's extra tables (cold -> warm,
    top-N) and what was read: first without the pretrained stack (hours may separate the two on a
    large file), then with it. A stage whose checkpoint this split's folder already holds, fitted
    with the same settings, is read back, not refitted: an interrupted report continues."""
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    scale, y = main_target(task, prepared)
    test = prepared.split.test
    el = reusable_checkpoint(cfg, task, "scratch") or scratch(OmegaConf.merge(cfg, {"stage": "scratch"}), prepared).checkpoint
    checkpoint = load_checkpoint(el, task)
    stack = select_training_kernels(checkpoint.model.member("scratch").double().eval(), cfg.kernels)
    predictions = {STACK: predict_batches(select_training_kernels(checkpoint.model, cfg.kernels), prepared.raw[test])}
    predictions.update(learner_predictions(stack, prepared.raw[test]))
    table = prepared.table
    for name, baseline in BASELINES.items():
        predictions[name] = scale.encode(baseline(table.iloc[prepared.split.known], table.iloc[test]))   # the stack's own ratings
    counts = cold_warm.prior_counts(prepared.raw[test], prepared.inputs.feature_names_)

    def results(extra: dict) -> tuple[dict, dict, str]:
        scores = {name: {m: v for m, v in task.metrics(y[test], p, scale).items() if m in METRICS} for name, p in predictions.items()}
        return scores, {"cold_warm": cold_warm.by_history(counts, y[test], predictions, scale.std), **extra}, task.describe(cfg, prepared)

    yield results({})
    pretrained = reusable_checkpoint(cfg, task, "pretrain") or pretrain(OmegaConf.merge(cfg, {"stage": "pretrain"})).checkpoint
    tuned = reusable_checkpoint(cfg, task, "finetune") or finetune(OmegaConf.merge(cfg, {"stage": "finetune", "ckpt_path": str(pretrained),
                                                                          "finetune": {"blend_ckpt": str(el)}})).checkpoint
    tuned_model = select_training_kernels(load_checkpoint(tuned, task).model, cfg.kernels)
    predictions[PRETRAINED] = predict_batches(tuned_model, prepared.raw[test])
    extra = {}
    if cfg.split.kind in TOP_N_SPLITS:
        implicit = select_training_kernels(load_checkpoint(pretrained, task).model, cfg.kernels)
        extra["top_n"] = evaluate_ranking(prepared, {STACK: stack, PRETRAINED: tuned_model, IMPLICIT: implicit},
                                          cfg.recommend.k, cfg.recommend.relevant_from)
    yield results(extra)


def _gather(runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Per model, one number per run; a model some run has not scored yet waits."""
    models = [m for m in runs[0] if all(m in run for run in runs)]
    return {model: {metric: [run[model][metric] for run in runs] for metric in METRICS} for model in models}


def format_report(results: dict, extras: dict, meta: dict) -> str:
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
    lines += _cold_warm_section(extras["cold_warm"]) + _top_n_section(extras["top_n"], meta["top_n"])
    return "\n".join(lines)


def _cold_warm_section(tables: dict) -> list[str]:
    lines = []
    for split, table in tables.items():
        keep = [i for i, n in enumerate(table["ratings"]) if n]
        lines += [f"## Cold to warm users, {split}", "", f"![RMSE by the user's ratings before, {split}](ratings_cold_warm_{split}.png)", "",
                  "Test RMSE by how many training ratings the user had before the rated one.", "",
                  "| model | " + " | ".join(f"{table['bins'][i]} ({table['ratings'][i]:,})" for i in keep) + " |",
                  "|---|" + "---|" * len(keep)]
        for model, values in sorted(table["rmse"].items(), key=lambda item: item[0] not in (STACK, PRETRAINED)):
            lines.append(f"| {model} | " + " | ".join(f"{values[i]:.4f}" for i in keep) + " |")
        lines.append("")
    return lines


def _top_n_section(tables: dict, settings: dict) -> list[str]:
    k, lines = settings["k"], []
    for split, table in tables.items():
        lines += [f"## Top-{k} recommendations, {split}", "",
                  f"Each user with a test rating >= {settings['relevant_from']} is ranked once, as of their latest training or validation "
                  "rating, among the training films they had not rated; a test rating at or above that is a relevant film.",
                  f"`{IMPLICIT}` ranks by how likely the user is to rate a film; the rating models by predicted stars.", "",
                  f"| ranked by | precision@{k} | NDCG@{k} | users |", "|---|---|---|---|"]
        for model, m in sorted(table.items(), key=lambda item: -item[1][f"ndcg@{k}"]):
            name = f"{model} (baseline)" if model == POPULARITY else model
            lines.append(f"| {name} | {m[f'precision@{k}']:.4f} | {m[f'ndcg@{k}']:.4f} | {m['users']:.0f} |")
        lines.append("")
    return lines


def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f}" if len(values) == 1 else f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"
