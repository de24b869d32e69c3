"""The paper's Table 2 on our data: P-EL, EL and single learners, random and temporal splits, several seeds.

Each (split, seed) pretrains (one stack per ``pretrain.targets``), fine-tunes and trains from
scratch anew; single learners are fitted once on the box-office training films. Scores are
on the test films: R2 / MSE / MAE of the standardised log1p revenue, and MAE in log dollars.
Written to ``reports/table2.json`` (per-seed lists) and ``reports/table2.md`` (mean ± std, P-EL
minus EL paired by seed, the paper's numbers).
"""

import copy
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from sklearn.neural_network import MLPRegressor

from pel_torch.checkpoint import load_checkpoint
from pel_torch.errors import PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.finetuning import STRATEGIES
from pel_torch.learners import make_learner
from pel_torch.pipeline import make_task, packaged_split, report_mode
from pel_torch.stack.blend import Blend
from pel_torch.stages import finetune, main_target, pretrain, pretraining_targets, scratch

log = logging.getLogger(__name__)
SPLITS = ("random", "temporal")
ABLATION = "EL + leaves fine-tuning"
WITHOUT_HEAD = " without EL head"
BASELINES = ("EL", "MLP", "XGBoost", "RandomForest", "LightGBM", "CatBoost", "NeuralNet")
SINGLE = {"XGBoost": "xgboost", "RandomForest": "random_forest", "LightGBM": "lightgbm", "CatBoost": "catboost", "NeuralNet": "neural_net"}
PAPER = {"P-EL": (0.777, 0.193, 0.346), "EL": (0.707, 0.489, 0.383), "CatBoost": (0.662, None, None),
         "XGBoost": (0.638, None, None), "LightGBM": (0.633, None, None), "RandomForest": (0.621, None, None),
         "NeuralNet": (0.608, None, None), "MLP": (0.535, None, None)}
METRICS = ("r2", "mse", "mae", "mae_log_dollars", "val_r2")
QUICK = {"stack": {"learners": {"catboost": {"iterations": 40}, "random_forest": {"n_estimators": 20}, "lightgbm": {"n_estimators": 40},
                                "xgboost": {"n_estimators": 40}, "neural_net": {"max_epochs": 5}}},
         "finetune": {"max_epochs": 2}}


def run_table2(cfg: DictConfig) -> list[Path]:
    """Runs every (split, seed), interleaving splits, and rewrites the reports after each one."""
    mode = report_mode(cfg, "table2")
    seeds = list(range(cfg.table2_seeds if mode == "full" else 1))
    strategies = list(cfg.table2_strategies or [cfg.finetune.strategy])
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise PelError(f"table2_strategies: unknown {', '.join(unknown)}; choose from {', '.join(STRATEGIES)}")
    task = make_task(cfg)
    targets = pretraining_targets(cfg, task)  # a bad pretrain.targets fails before any run
    data = task.describe(cfg, task.prepare(cfg))
    pel = [f"P-EL ({strategy})" for strategy in strategies] + ([ABLATION] if cfg.table2_ablation else [])
    # With a head, each fine-tuned model is also scored as its first member alone, as it was before blending.
    if cfg.finetune.blend or len(targets) > 1:
        pel += [name + WITHOUT_HEAD for name in pel]
    models = pel + list(BASELINES)
    command = (f"python evaluate.py table2={mode} table2_seeds={len(seeds)} threads={cfg.threads}"
               + ("" if cfg.table2_strategies is None else f" table2_strategies=[{','.join(strategies)}]")
               + f" pretrain.targets=[{','.join(targets)}]"
               + ("" if cfg.table2_ablation else " table2_ablation=false"))
    out = Path(cfg.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    results, seconds_before = _resume(out / "table2.json", command, data, models)
    started = time.perf_counter()
    for seed in seeds:
        for split in SPLITS:
            if seed < len(results[split]["EL"]["r2"]):
                continue
            for model, metrics in _one_run(_run_config(cfg, split, seed), strategies).items():
                for name in METRICS:
                    results[split][model][name].append(metrics.get(name, float("nan")))
            log.info("table2: %s seed %d done after %.0f s", split, seed, time.perf_counter() - started)
            meta = {"data": data, "seeds_done": {s: len(results[s]["EL"]["r2"]) for s in SPLITS}, "seeds_planned": len(seeds),
                    "mode": mode, "date": time.strftime("%Y-%m-%d"),
                    "seconds": seconds_before + round(time.perf_counter() - started), "command": command}
            (out / "table2.json").write_text(json.dumps({**results, "meta": meta}, indent=1))
            (out / "table2.md").write_text(format_table(results, meta))
    return [out / "table2.json", out / "table2.md"]


def _resume(path: Path, command: str, data: str, models: list[str]) -> tuple[dict, int]:
    """Results of an interrupted run of the same command on the same data, so a long Table 2 continues where it stopped."""
    fresh = {split: {model: {m: [] for m in METRICS} for model in models} for split in SPLITS}
    if not path.exists():
        return fresh, 0
    try:
        previous = json.loads(path.read_text())
        meta = previous["meta"]
    except (ValueError, KeyError):
        return fresh, 0
    same = meta.get("command") == command and meta.get("data") == data and all(set(previous.get(s, ())) == set(models) for s in SPLITS)
    if not same or meta.get("seeds_done") == {s: meta.get("seeds_planned") for s in SPLITS}:
        return fresh, 0
    log.info("table2: continuing the interrupted run in %s (seeds done: %s); delete it to start afresh", path, meta["seeds_done"])
    return {split: previous[split] for split in SPLITS}, int(meta.get("seconds", 0))


def _run_config(cfg: DictConfig, split: str, seed: int) -> DictConfig:
    mode = report_mode(cfg, "table2")
    split_cfg = packaged_split(split)
    cfg = copy.deepcopy(cfg)
    OmegaConf.set_struct(cfg, False)  # quick mode adds learner settings the defaults leave open
    run = OmegaConf.merge(cfg, {"split": split_cfg, "seed": seed, "ckpt_path": None,
                                "checkpoints_dir": str(Path(cfg.checkpoints_dir, "table2", f"{split}-seed{seed}"))})
    if mode == "quick":
        run = OmegaConf.merge(run, QUICK)
    return run


def _one_run(cfg: DictConfig, strategies: list[str]) -> dict[str, dict[str, float]]:
    task = make_task(cfg)
    scores = {}

    def run(model: str, stage, overrides: dict):
        result = stage(OmegaConf.merge(cfg, overrides))
        checkpoint = load_checkpoint(result.checkpoint, task)
        scores[model] = _checkpoint_scores(cfg, task, checkpoint, result.metrics["val/r2"])
        if len(checkpoint.model.members) > 1:
            first = Blend([checkpoint.model.members[0]], checkpoint.model.names[:1])
            scores[model + WITHOUT_HEAD] = _checkpoint_scores(cfg, task, dataclasses.replace(checkpoint, model=first), float("nan"))
        return result

    pretrained = pretrain(OmegaConf.merge(cfg, {"stage": "pretrain"}))
    el = run("EL", scratch, {"stage": "scratch"})
    # Fine-tuned models head over this very EL stack (finetune.blend) instead of fitting another.
    blend = {"blend_ckpt": str(el.checkpoint)}
    for strategy in strategies:
        run(f"P-EL ({strategy})", finetune, {"stage": "finetune", "finetune": {"strategy": strategy, **blend}, "ckpt_path": str(pretrained.checkpoint)})
    if cfg.table2_ablation:
        # The same gradient fine-tuning (and head), started from the box-office stack: what pretraining
        # brings beyond what the fine-tuning itself brings.
        run(ABLATION, finetune, {"stage": "finetune", "finetune": {"strategy": "leaves", **blend}, "ckpt_path": str(el.checkpoint)})
    prepared = task.prepare(cfg)
    scale, y = main_target(task, prepared)
    train, test = prepared.split.train, prepared.split.test
    for model, name in SINGLE.items():
        overrides = OmegaConf.to_container(cfg.stack.learners, resolve=True).get(name)
        learner = make_learner(name, overrides, seed=cfg.seed, threads=cfg.threads).fit(prepared.features[train], y[train])
        scores[model] = task.metrics(y[test], learner.predict(prepared.features[test]), scale)
    mlp = MLPRegressor(hidden_layer_sizes=(100,), early_stopping=True, max_iter=500, random_state=cfg.seed)
    scores["MLP"] = task.metrics(y[test], mlp.fit(prepared.features[train], y[train]).predict(prepared.features[test]), scale)
    return scores


def _checkpoint_scores(cfg, task, checkpoint, val_r2: float) -> dict[str, float]:
    metrics = evaluate_checkpoint(cfg, task, checkpoint)
    return {**{name: metrics[f"test/{name}"] for name in METRICS if name != "val_r2"}, "val_r2": val_r2}


def format_table(results: dict, meta: dict) -> str:
    lines = [f"# Table 2 ({meta['date']})", "", f"Data: {meta['data']}.", "",
             f"Command: `{meta['command']}` ({meta['seconds']} s; seeds done per split: {meta['seeds_done']} of {meta['seeds_planned']}).",
             "Test films; R2 / MSE / MAE on standardised log1p revenue, MAE also in log dollars; mean ± std over seeds.",
             "P-EL is shown for each fine-tuning strategy; **P-EL** is the one with the best mean *validation* R2 (never chosen on test).", ""]
    for split in SPLITS:
        models = list(results[split])
        chosen = max((m for m in models if m.startswith("P-EL") and not m.endswith(WITHOUT_HEAD)), key=lambda m: _mean_validation(results[split][m]))
        lines += [f"## {split} split", "", "| model | R2 | MSE | MAE | MAE (log $) | validation R2 | paper R2 / MSE / MAE (their data) |",
                  "|---|---|---|---|---|---|---|"]
        for model in models:
            row = results[split][model]
            cells = [_mean_std(row[m]) for m in METRICS]
            name = f"**{model}**" if model == chosen else model
            paper = " / ".join("-" if v is None else f"{v:.3f}" for v in PAPER.get("P-EL" if model.startswith("P-EL") else model, (None,) * 3))
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {paper} |")
        lines.append("")
        pairs = [(chosen, "EL"), (chosen, ABLATION), (chosen + WITHOUT_HEAD, "EL"), (ABLATION, "EL")]
        for model, baseline in pairs:
            if model in results[split] and baseline in results[split] and model != baseline:
                gain = {m: np.subtract(results[split][model][m], results[split][baseline][m]) for m in ("r2", "mse", "mae")}
                lines.append(f"{model} minus {baseline}, test R2 paired by seed: {_mean_std(gain['r2'])} "
                             f"(positive on {int((gain['r2'] > 0).sum())} of {len(gain['r2'])} seeds); "
                             f"MSE {_mean_std(gain['mse'])}, MAE {_mean_std(gain['mae'])}  ")
        singles = [m for m in SINGLE if m in results[split] and results[split][m]["r2"]]
        if "EL" in results[split] and results[split]["EL"]["r2"] and singles:
            gains = [(m, np.subtract(results[split]["EL"]["r2"], results[split][m]["r2"])) for m in singles]
            lines.append("EL minus each of its learners fitted alone, test R2 paired by seed: "
                         + "; ".join(f"{m} {_mean_std(g)} ({int((g > 0).sum())} of {len(g)})" for m, g in gains) + "  ")
        lines.append("")
    lines += ["Validation R2 is that of the films the heads' weights and early stopping were chosen on: optimistic, never used to choose on test.",
              "The paper's numbers come from its own Kaggle data (The Movies Dataset, with budgets); ours from the data named above.", ""]
    return "\n".join(lines)


def _mean_validation(row: dict) -> float:
    known = np.asarray(row["val_r2"], dtype=float)
    known = known[np.isfinite(known)]
    return float(known.mean()) if len(known) else -np.inf


def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    if not len(values) or np.isnan(values).all():
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.nanmean(values):.3f} ± {np.nanstd(values, ddof=1):.3f}"
