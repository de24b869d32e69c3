"""The forecasting report: the stack, each of its members and the statistical forecasters, per dataset.

    python evaluate.py task=genre_volume report=full      # reports/genre_volume.md and reports/genre_volume.json

For each dataset of ``report_datasets`` (genres, tourism_monthly, tourism_quarterly) the configured
stack is fitted once as ``stage=scratch`` fits it (or read back from the dataset's folder of
``checkpoints/genre_volume_report/`` when a fit with the same settings is there), and every row is scored on the same test
window (Tourism: the competition's held-out values):
- ``stack``: the compiled stack, its head chosen on the validation origins;
- ``layer 1 name``: each member, read from the same compiled module;
- ``stack, one head`` and ``stack, head per step``: the same members under either head, each chosen on
  the validation origins (``stack.head_groups``); ``stack`` is the one the config asked for, so it
  equals one of them, and the other says whether per-step weights paid;
- ``seasonal_naive`` and ``theta``: the statistical forecasts themselves (the competition's
  seasonal naive: if its MAPE matches the published one, the protocol is the competition's).
80% intervals are split-conformal: per step ahead, the 10% and 90% quantiles of the model's scaled
errors on the validation origins, added to its test forecast and widened to hold it; ``coverage80`` is the share of test
values inside. Published MAPE, their methods and runs, is printed beside ours and labelled.
Where ``report_pretrain[dataset]`` names other series, the networks of ``pretrain.layers`` are
pretrained on them and the stack refitted from them (``stage=pretrain``, then ``stage=finetune``):
``stack, pretrained`` is that head over the refitted stack and ``stack``, and ``layer 1 name,
pretrained`` each refitted network alone, the same seed and rows as its ``layer 1 name`` from
scratch, only its starting weights differ.
A dataset is fitted once per test window (``report_windows[dataset]``: the last ``horizon`` periods,
then each ``horizon`` before them, ``split.test_offset``) and seed (``report_seeds[dataset]``):
each figure is the mean over these runs, each row also keeps its per-run values, and the stack is
paired by run against the best
single forecaster.
"""

import json
import logging
import time
from pathlib import Path

import numpy as np

from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import Checkpoint, load_checkpoint, reusable_checkpoint
from pel_torch.data.tourism import PUBLISHED_MAPE
from pel_torch.errors import PelError
from pel_torch.inference import learner_predictions, validation_learner_predictions, validation_predictions
from pel_torch.learners.selection import ensemble_selection, grouped_selection, weighted
from pel_torch.pipeline import make_task, other_overrides, packaged_config, report_mode
from pel_torch.stages import finetune, main_target, pretrain, scratch
from pel_torch.tasks.genre_volume.forecast import conformal_interval
from pel_torch.tasks.genre_volume.task import forecast_errors
from pel_torch.tasks.genre_volume.windows import STATISTICAL

log = logging.getLogger(__name__)
DATASETS = ("genres", "tourism_monthly", "tourism_quarterly")
STACK = "stack"
PRETRAINED = "stack, pretrained"
TUNED = "other_series (fine-tuned)"   # the finetune checkpoint's refitted member
HEADS = ("stack, one head", "stack, head per step")
QUICK = {"stack": {"n_folds": 2, "layers": [["seasonal_naive", "theta", "ets", "lightgbm"]], "learners": {"lightgbm": {"n_estimators": 20}}},
         "split": {"max_origins": 3, "val_origins": 2}}


def run_report(cfg: DictConfig) -> list[Path]:
    mode = report_mode(cfg)
    unknown = [d for d in cfg.report_datasets if d not in DATASETS]
    if unknown:
        raise PelError(f"report_datasets: unknown {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    out = Path(cfg.reports_dir)
    out.mkdir(parents=True, exist_ok=True)
    started, results, described, replicates = time.perf_counter(), {}, {}, {}
    for dataset in cfg.report_datasets:
        run = cfg.copy()
        OmegaConf.set_struct(run, False)   # a dataset's config replaces the command line's data, whatever keys each has
        for key, value in packaged_config("data", dataset).items():
            run[key] = value
        run = OmegaConf.merge(run, {"ckpt_path": None, "checkpoints_dir": str(Path(cfg.checkpoints_dir, "genre_volume_report", dataset))},
                              QUICK if mode == "quick" else {})
        left_out = list(cfg.report_leave_out.get(dataset) or [])
        run.stack.layers = [[name for name in layer if name not in left_out] for layer in run.stack.layers]
        seeds = 1 if mode == "quick" else int(cfg.report_seeds.get(dataset) or 1)
        windows = 1 if mode == "quick" else int(cfg.report_windows.get(dataset) or 1)
        series = [] if mode == "quick" else list(cfg.report_pretrain.get(dataset) or [])
        runs = []
        for window in range(windows):
            for seed in range(seeds):
                run.seed, run.split.test_offset = seed, window * run.horizon
                scores, described[dataset] = one_dataset(run, series)
                runs.append(scores)
        results[dataset] = over_runs(runs)
        replicates[dataset] = {"windows": windows, "seeds": seeds}
        described[dataset] += f"; pretrained on {', '.join(series)}" if series else ""
        meta = {"date": time.strftime("%Y-%m-%d"), "seconds": round(time.perf_counter() - started), "mode": mode,
                # windows, seeds and pretraining per dataset are in "runs" and "data"
                "command": f"python evaluate.py task=genre_volume report={mode} threads={cfg.threads} "
                           f"report_datasets=[{','.join(cfg.report_datasets)}]" + pretrain_overrides(cfg)
                           + other_overrides(("report=", "report_datasets=", "report_pretrain")), "data": described,
                "stack": f"stack.layers={OmegaConf.to_container(cfg.stack.layers)} stack.n_folds={run.stack.n_folds}",
                "left_out": OmegaConf.to_container(cfg.report_leave_out),
                "runs": replicates,
                "published_mape": {f"tourism_{k}": v for k, v in PUBLISHED_MAPE.items()}}
        (out / "genre_volume.json").write_text(json.dumps({**results, "meta": meta}, indent=1))
        (out / "genre_volume.md").write_text(format_report(results, meta))
        log.info("report: %s done after %.0f s", dataset, time.perf_counter() - started)
    return [out / "genre_volume.json", out / "genre_volume.md"]


def pretrain_overrides(cfg: DictConfig) -> str:
    """The command line's ``report_pretrain`` of every reported dataset, so that the report's command reruns it
    (``++``: the config holds a key for the genres alone)."""
    return "".join(f' "++report_pretrain.{d}=[{",".join(cfg.report_pretrain.get(d) or [])}]"' for d in cfg.report_datasets)


def one_dataset(cfg: DictConfig, pretrain_on: list[str]) -> tuple[dict, str]:
    task = make_task(cfg)
    prepared = task.prepare(cfg)
    scale, y = main_target(task, prepared)
    fitted = reusable_checkpoint(cfg, task, "scratch") or scratch(OmegaConf.merge(cfg, {"stage": "scratch"}), prepared).checkpoint
    checkpoint = load_checkpoint(fitted, task)
    stack = checkpoint.model.member("scratch").double().eval()
    tuned = pretrained_model(cfg, task, fitted, pretrain_on) if pretrain_on else None
    table, split = prepared.table, prepared.split
    raw = {part: prepared.raw[getattr(split, part)] for part in ("val", "test")}
    # on the validation rows, what the stack predicted before its members were refitted there (split.refit)
    members = {"val": validation_learner_predictions(stack, raw["val"], checkpoint.held_out), "test": learner_predictions(stack, raw["test"])}
    heads = both_heads(members, y[split.val], table["step"].to_numpy() - 1, split, cfg.horizon, cfg.stack.selection_rounds)
    networks = {name for layer in cfg.pretrain.layers for name in layer}
    forecasts = {}
    for part in ("val", "test"):
        rows = getattr(split, part)

        def predicted(model, held_out):   # the kept validation predictions where the members were refitted on those rows
            return validation_predictions(model, raw[part], held_out if part == "val" else {})

        # a statistical member is its forecast as it is: its row is the forecaster's own, below
        outputs = {STACK: predicted(stack, checkpoint.held_out), **heads[part],
                   **{name: p for name, p in members[part].items() if name.split()[-1] not in STATISTICAL}}
        if tuned is not None:
            outputs[PRETRAINED] = predicted(tuned.model, tuned.held_out)
            outputs.update({f"{name}, pretrained": p for name, p in learner_predictions(tuned.model.member(TUNED), raw[part]).items()
                            if name.split()[-1] in networks})
        part_scale = table["scale"].to_numpy()[rows]
        forecasts[part] = {name: scale.decode(p) * part_scale for name, p in outputs.items()}
        forecasts[part].update({name: table[name].to_numpy()[rows] for name in STATISTICAL})
    scores = {}
    for name in forecasts["test"]:
        frame = table.iloc[split.test].assign(forecast=forecasts["test"][name])
        lower, upper = conformal_interval(table.iloc[split.val], forecasts["val"][name], frame, forecasts["test"][name])
        inside = (frame["actual"] >= lower) & (frame["actual"] <= upper)
        scores[name] = {**forecast_errors(frame, "forecast"), "coverage80": float(inside.mean())}
    return scores, task.describe(cfg, prepared)


def pretrained_model(cfg: DictConfig, task, scratch_checkpoint: Path, series: list[str]) -> Checkpoint:
    """``pretrain.layers`` pretrained on ``series``, then the stack refitted from them and headed with the scratch
    stack (read back where a fit with the same settings is in the dataset's folder): the finetune checkpoint."""
    pre_cfg = OmegaConf.merge(cfg, {"stage": "pretrain", "pretrain": {"series": series}})
    pretrained = reusable_checkpoint(pre_cfg, task, "pretrain") or pretrain(pre_cfg).checkpoint
    fine_cfg = OmegaConf.merge(pre_cfg, {"stage": "finetune", "ckpt_path": str(pretrained), "finetune": {"blend_ckpt": str(scratch_checkpoint)}})
    tuned = load_checkpoint(reusable_checkpoint(fine_cfg, task, "finetune") or finetune(fine_cfg).checkpoint, task)
    tuned.model.double().eval()
    return tuned


def over_runs(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict]:
    """Each model's metrics averaged over the runs (test windows x seeds), with each run's values under ``runs``."""
    return {model: {**{k: float(np.mean([scores[model][k] for scores in runs])) for k in row},
                    "runs": {k: [scores[model][k] for scores in runs] for k in row if k != "windows"}}
            for model, row in runs[0].items()}


def against_best_single(rows: dict[str, dict]) -> list[str]:
    """The stack against the best single forecaster trained from scratch (by mean MASE), and each pretrained row
    against its counterpart from scratch: MASE paired by run (test window and seed)."""
    singles = [name for name in rows if not name.startswith(STACK) and not name.endswith(", pretrained")]
    best = min(singles, key=lambda name: rows[name]["mase"])
    pairs = [(STACK, best, "the best single forecaster")]
    pairs += [(name, name.removesuffix(", pretrained") if name != PRETRAINED else STACK, "from scratch")
              for name in rows if name.endswith(", pretrained")]
    return [paired(rows, a, b, what) for a, b, what in pairs]


def paired(rows: dict[str, dict], a: str, b: str, what: str) -> str:
    difference = np.subtract(rows[a]["runs"]["mase"], rows[b]["runs"]["mase"])
    spread = f" ± {difference.std(ddof=1):.3f}" if len(difference) > 1 else ""
    return (f"`{a}` minus {what} (`{b}`), MASE paired by run: {difference.mean():+.3f}{spread} "
            f"({100 * difference.mean() / rows[b]['mase']:+.1f}%), lower in {int((difference < 0).sum())} of {len(difference)}.")


def both_heads(members: dict[str, dict[str, np.ndarray]], y_val: np.ndarray, step: np.ndarray, split, horizon: int,
               rounds: int) -> dict[str, dict[str, np.ndarray]]:
    """The last layer's members under one head and under a head per step, both chosen on the validation rows:
    ``{part: {head's row name: (n,) scaled forecast}}``."""
    last = max(int(name.split()[1]) for name in members["val"])
    names = [name for name in members["val"] if name.startswith(f"layer {last} ")]
    val, test = (np.column_stack([members[part][name] for name in names]) for part in ("val", "test"))
    one = ensemble_selection(val, y_val, rounds)
    per_step = grouped_selection(val, y_val, step[split.val], horizon, rounds)
    return {part: {HEADS[0]: weighted(predictions, one), HEADS[1]: weighted(predictions, per_step, step[rows])}
            for part, predictions, rows in (("val", val, split.val), ("test", test, split.test))}


def format_report(results: dict, meta: dict) -> str:
    left_out = "; ".join(f"{d}: without {', '.join(names)}" for d, names in meta["left_out"].items() if names and d in results)
    lines = [f"# Forecasting report ({meta['date']})", "", f"Command: `{meta['command']}` ({meta['seconds']} s). Stack: `{meta['stack']}`"
             + (f" ({left_out}, report_leave_out)." if left_out else "."),
             "MAPE, sMAPE and MASE as the forecasting competitions computed them (per series over the horizon, then averaged);",
             "RMSE per series, averaged; coverage80: the share of test values inside the split-conformal 80% interval.", ""]
    for dataset, rows in results.items():
        runs = meta["runs"][dataset]
        n_runs = runs["windows"] * runs["seeds"]
        lines += [f"## {dataset}", "", f"Data: {meta['data'][dataset]}; " + (f"means over {n_runs} runs ({runs['windows']} test window(s) x "
                  f"{runs['seeds']} seed(s)), MASE ± std." if n_runs > 1 else "one test window, one seed."),
                  "", *[f"- {line}" for line in against_best_single(rows)], "",
                  "| model | MAPE | sMAPE | MASE | RMSE | coverage80 |", "|---|---|---|---|---|---|"]
        for model, row in sorted(rows.items(), key=lambda item: item[1]["mase"]):
            name = f"**{model}**" if model == STACK else model
            mase = f"{row['mase']:.3f}" + (f" ± {np.std(row['runs']['mase'], ddof=1):.3f}" if n_runs > 1 else "")
            lines.append(f"| {name} | {row['mape']:.2f} | {row['smape']:.2f} | {mase} | {row['rmse']:.1f} | {row['coverage80']:.3f} |")
        published = meta["published_mape"].get(dataset)
        if published:
            lines += ["", "Published MAPE, their methods and runs (not ours): " + "; ".join(f"{k} {v}" for k, v in published.items()) + "."]
        lines.append("")
    return "\n".join(lines)
