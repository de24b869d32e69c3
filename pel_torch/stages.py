"""The training stages: pretrain on plentiful targets, fine-tune on the task's scarce one, or train on it from scratch.

Every stage ends in a checkpoint under ``checkpoints/<stage>/`` and metrics in TensorBoard.
Learners are fitted natively; validation and gradient fine-tuning run through ``PELModule``.
What the rows, targets and inputs are is the task's business (``cfg.task``); this module only
orchestrates.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import Checkpoint, CheckpointError, load_checkpoint, resolve_checkpoint, save_checkpoint
from pel_torch.compile import compile_stack
from pel_torch.errors import PelError
from pel_torch.features.targets import TargetScale
from pel_torch.finetuning import strategy
from pel_torch.inference import predict_batches, select_training_kernels, validation_predictions
from pel_torch.learners.selection import ensemble_selection
from pel_torch.lit import PELModule, rows_loader
from pel_torch.metrics import regression_metrics
from pel_torch.pipeline import build_logger, build_stack, build_trainer, flat_config, make_task
from pel_torch.projector import log_embeddings
from pel_torch.stack.blend import Blend, ScaledStack
from pel_torch.tasks.base import Prepared, TargetSet, Task

log = logging.getLogger(__name__)
SCRATCH = "scratch"  # the name of the member fitted on the task's target alone (the paper's EL)
MIN_ROWS_PER_FOLD = 10  # fewer rows than this per fold and a fold model learns little beyond the mean
PLENTIFUL = 2.0  # pretraining rows per training row of the target below which pretraining can hardly pay


@dataclass
class StageResult:
    stage: str
    checkpoint: Path
    metrics: dict[str, float]


def pretrain(cfg: DictConfig) -> StageResult:
    """Fit one stack per ``pretrain.targets`` on the task's pretraining rows; save them in one checkpoint.

    A target the table cannot support (absent, or too few rows for the folds) is skipped with one
    line saying so; if none is left, the stage stops and says what to do instead."""
    task = make_task(cfg)
    pretraining_targets(cfg, task)   # a wrong target fails before the data is read
    prepared = task.prepare(cfg)
    sets = pretraining_sets(cfg, task, prepared)
    logger = build_logger(cfg)
    members, metrics, described = [], {}, {}
    for target, rows in sets.items():
        log.info("pretraining on %s rows, target %s", f"{len(rows.y):,}", target)
        # pretrain.layers: the learners worth pretraining (a task's global networks), where not the whole stack.
        # Bagged to the last layer: fine-tuning reads the out-of-fold predictions of the pretraining rows.
        ensemble = build_stack(cfg, layers=cfg.pretrain.get("layers"), last_layer="bagged").fit(rows.features, rows.y, prepared.groups, prepared.sizes)
        members.append(ScaledStack(compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_)))
        logger.experiment.add_scalars(f"pretrain/{target}/selection_weights", dict(zip(ensemble.learner_names[-1], ensemble.mean_weights().tolist())))
        # Out-of-fold predictions of the pretraining rows: the honest prior for those among them with the task's target.
        oof = ensemble.combine(ensemble.oof_, rows.features)
        described[target] = {"target": rows.target, "oof": {"ids": rows.ids, "values": oof.tolist()}}
        metrics.update({f"pretrain/{target}/oof_{k}": v for k, v in regression_metrics(rows.y, oof).items()})
    # The checkpoint predicts the first target; finetune uses every member.
    targets = list(sets)
    model = Blend(members, targets, weights=[1.0] + [0.0] * (len(targets) - 1))
    log_embeddings(logger.experiment, model, prepared.labels, "pretrain")
    path = _save(cfg, task, "pretrain", model, prepared, described[targets[0]]["target"], {"members": described})
    logger.log_hyperparams(flat_config(cfg), metrics)
    return StageResult("pretrain", path, metrics)


def pretraining_targets(cfg, task: Task) -> list[str]:
    """``pretrain.targets``, checked: at least one, each known to the task, none twice."""
    if not task.pretraining_targets:
        raise PelError(f"task={task.name} has nothing to pretrain on yet; fit it on its target with python train.py task={task.name} stage=scratch")
    targets = list(cfg.pretrain.targets)
    unknown = [t for t in targets if t not in task.pretraining_targets]
    if unknown or not targets:
        raise PelError(f"pretrain.targets={targets}: {task.name} pretrains on {', '.join(task.pretraining_targets)}; "
                       "list one or more of them")
    if len(set(targets)) != len(targets):
        raise PelError(f"pretrain.targets={targets} repeats a target; list each once")
    return targets


def pretraining_sets(cfg, task: Task, prepared: Prepared) -> dict[str, TargetSet]:
    """The rows of each pretraining target the table can support, in ``pretrain.targets`` order.

    Logs how many pretraining rows there are per training row of the task's target: P-EL pays
    when the first are plentiful and the second scarce."""
    needed, n_train = MIN_ROWS_PER_FOLD * cfg.stack.n_folds, len(prepared.split.train)
    sets, skipped = {}, []
    for target in pretraining_targets(cfg, task):
        rows = task.pretraining_set(prepared, target)
        if len(rows.y) < needed:
            skipped.append(f"{target}: {len(rows.y):,} rows from {rows.source}")
            log.info("pretrain: skipping target %s: %s rows have it (from %s), %s are needed for %d folds; "
                     "pretrain.targets without it runs the rest", target, f"{len(rows.y):,}", rows.source, needed, cfg.stack.n_folds)
            continue
        sets[target] = rows
        ratio = len(rows.y) / max(n_train, 1)
        message = (f"pretrain: {len(rows.y):,} rows to pretrain on ({target}) for {n_train:,} training rows of "
                   f"{task.main_target}: {ratio:.1f}x")
        if ratio < PLENTIFUL:
            log.warning("%s. P-EL's premise (plentiful pretraining rows, scarce target rows) is weak on this table: "
                        "expect little from pretraining, and compare with python train.py stage=scratch", message)
        else:
            log.info(message)
    if not sets:
        raise PelError(f"no pretraining target has enough rows on this table ({'; '.join(skipped)}; {needed} needed for "
                       f"stack.n_folds={cfg.stack.n_folds}): add the column it comes from, or fit the stack on "
                       f"{task.main_target} alone with python train.py stage=scratch")
    return sets


def scratch(cfg: DictConfig, prepared: Prepared | None = None) -> StageResult:
    """The paper's EL: the same stack on the task's target only. ``prepared``: the rows of ``cfg``'s
    split, already prepared by a caller that needs them too."""
    task = make_task(cfg)
    prepared = task.prepare(cfg) if prepared is None else prepared
    scale, y = main_target(task, prepared)
    member, held_out = fit_scratch(cfg, prepared, y)
    return _validate_and_save(cfg, task, "scratch", Blend([member], [SCRATCH]), prepared, y, scale, held_out=held_out)


def fit_scratch(cfg, prepared: Prepared, y: np.ndarray) -> tuple[ScaledStack, dict[str, np.ndarray]]:
    """The stack fitted on the training rows, its head chosen on the validation rows, and where the split names
    ``refit`` rows (``Prepared.split``) its members fitted again there under that head. Returns the stack and,
    after a refit, the validation predictions of the stack the head was chosen with (``named_predictions``):
    the refitted members have seen the validation targets, so their own errors there are no guide."""
    train = prepared.split.train
    needed = MIN_ROWS_PER_FOLD * cfg.stack.n_folds
    if len(train) < needed:
        raise PelError(f"only {len(train):,} training rows have the target for stack.n_folds={cfg.stack.n_folds} "
                       f"({MIN_ROWS_PER_FOLD} per fold, {needed} in all); add rows or lower stack.n_folds")
    val = prepared.split.val
    # The head is chosen on the validation rows: on a temporal split they follow the training rows in time.
    ensemble = build_stack(cfg).fit(prepared.features[train], y[train], prepared.groups, prepared.sizes,
                                    prepared.times_of(train)).select_on(prepared.features[val], y[val])
    refit = getattr(prepared.split, "refit", None)
    held_out = {}
    if refit is not None and len(refit):
        held_out = ensemble.named_predictions(prepared.features[val])
        log.info("refitting the stack's members on %s rows up to the latest known targets", f"{len(refit):,}")
        ensemble = ensemble.refit(prepared.features[refit], y[refit], prepared.groups, prepared.sizes,
                                  once=getattr(prepared.split, "refit_once", False), times=prepared.times_of(refit))
    return ScaledStack(compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_)), held_out


def finetune(cfg: DictConfig) -> StageResult:
    """Reload a pretrain checkpoint, adapt each of its stacks with ``finetune.strategy``, and head over them.

    With ``finetune.blend`` the head also holds the stack fitted on the target alone (EL): the
    fine-tuned pretrained stacks and EL, weighted by ensemble selection on the validation rows."""
    adapt = strategy(cfg.finetune.strategy)
    task = make_task(cfg)
    checkpoint = load_checkpoint(resolve_checkpoint(cfg, "pretrain"), task)
    check_compatible(cfg, task, checkpoint)
    prepared = task.prepare(cfg, inputs=checkpoint.inputs)
    scale, y = main_target(task, prepared)
    # Every checkpoint is loaded and checked before any fine-tuning, so a bad one fails in seconds.
    scratch_member, source, scratch_held_out = _scratch_member(cfg, task, prepared, y) if cfg.finetune.blend else (None, None, {})
    oofs = checkpoint.spec["extra"].get("members", {})
    members, names, kept = [], [], []   # kept: each member's held-out validation predictions, where it has them
    for name, member in zip(checkpoint.model.names, checkpoint.model.members):
        members.append(adapt(cfg, member, prepared, y, oofs.get(name, {}).get("oof")))
        names.append(f"{name} (fine-tuned)")
        kept.append({})
    if scratch_member is not None:   # its members may have been refitted on the validation rows: its errors there are from before
        members.append(scratch_member)
        names.append(SCRATCH)
        kept.append(scratch_held_out)
    val = prepared.split.val
    predictions = np.column_stack([validation_predictions(member, prepared.raw[val], held_out)
                                   for member, held_out in zip(members, kept)])   # (n_val, n_members)
    weights = head_weights(cfg, predictions, y[val])
    log.info("head: %s, chosen on validation", ", ".join(f"{n} {w:.2f}" for n, w in zip(names, weights)))
    extra = {"strategy": cfg.finetune.strategy, "pretrain_checkpoint": str(checkpoint.path), "head": dict(zip(names, weights)),
             **({"scratch_source": source} if source else {})}
    held_out = {"model": predictions @ np.asarray(weights)} if scratch_held_out else None
    return _validate_and_save(cfg, task, "finetune", Blend(members, names, weights), prepared, y, scale, extra, held_out)


def head_weights(cfg, predictions: np.ndarray, y_val: np.ndarray) -> list[float]:
    """The selection head's weights: Caruana selection on the members' validation ``predictions`` (n_val, n_members)."""
    if predictions.shape[1] == 1:
        return [1.0]
    return ensemble_selection(predictions, y_val, cfg.stack.selection_rounds).tolist()


def _scratch_member(cfg, task: Task, prepared: Prepared, y: np.ndarray) -> tuple[ScaledStack, str, dict[str, np.ndarray]]:
    """The head's EL: ``finetune.blend_ckpt`` (a scratch checkpoint of the same split and inputs), else fitted now;
    where it was, and its held-out validation predictions (``fit_scratch``)."""
    path = cfg.finetune.blend_ckpt
    if not path:
        member, held_out = fit_scratch(cfg, prepared, y)
        return select_training_kernels(member, cfg.kernels), "fitted here", held_out
    checkpoint = load_checkpoint(path, task)
    check_compatible(cfg, task, checkpoint)
    if checkpoint.spec["stage"] != "scratch":
        raise CheckpointError(f"finetune.blend_ckpt={path}: a {checkpoint.spec['stage']} checkpoint; give a scratch checkpoint "
                              "of the same split (python train.py stage=scratch) or leave blend_ckpt=null to fit one")
    if checkpoint.feature_names != list(prepared.inputs.feature_names_):
        raise CheckpointError(f"finetune.blend_ckpt={path}: its features differ from the pretrain checkpoint's; "
                              "train both with the same features config")
    return select_training_kernels(checkpoint.model.member(SCRATCH).double().eval(), cfg.kernels), str(checkpoint.path), checkpoint.held_out


def main_target(task: Task, prepared: Prepared) -> tuple[TargetScale, np.ndarray]:
    """The task's target scale (fitted on the training rows) and every row's standardised target."""
    scale = task.target_scale(prepared)
    return scale, scale.encode(task.target_values(prepared.table, scale.name))


def check_compatible(cfg, task: Task, checkpoint: Checkpoint) -> None:
    """The checkpoint must come from the same rows, split and input settings: anything else leaks or mismatches."""
    saved = checkpoint.spec["extra"].get("split")
    if saved != task.split_signature(cfg):
        raise CheckpointError(f"{checkpoint.path}: pretrained on another data/split ({saved}); "
                              f"pretrain again with this config (now {task.split_signature(cfg)})")
    expected, found = task.input_settings(cfg), checkpoint.inputs.settings()
    for name, want in expected.items():
        if found.get(name) != want:
            raise CheckpointError(f"{checkpoint.path}: its features differ from the config's (features.{name}: "
                                  f"checkpoint {found.get(name)}, config {want}); use the checkpoint's feature settings")


def _validate_and_save(cfg, task: Task, stage: str, model: Blend, prepared: Prepared, y: np.ndarray, scale: TargetScale,
                       extra: dict | None = None, held_out: dict[str, np.ndarray] | None = None) -> StageResult:
    """Score ``model`` on the validation rows and save it. ``held_out``: validation predictions of the model before
    its members were refitted on them (``fit_scratch``): those are scored and saved with it, not its own."""
    val = prepared.split.val
    trainer = build_trainer(cfg, max_epochs=1, single_device=True)
    if held_out:
        prediction = held_out["model"]
        metrics = {f"val/{name}": value for name, value in regression_metrics(y[val], prediction).items()}
        metrics["val/loss"] = metrics["val/mse"]   # PELModule's loss is the MSE
    else:
        module = PELModule(select_training_kernels(model, cfg.kernels), hparams=flat_config(cfg))
        # One process scores every validation row exactly once (a distributed sampler pads uneven shards).
        results = trainer.validate(module, rows_loader(prepared.raw[val], y[val], 1024), verbose=False)[0]
        metrics = {k: float(v) for k, v in results.items()}
        prediction = predict_batches(select_training_kernels(model, cfg.kernels), prepared.raw[val])
    # The task's own metrics in its own units (ratings: RMSE in stars), beside the standardised ones.
    metrics.update({f"val/{name}": value for name, value in task.metrics(y[val], prediction, scale, prepared.table.iloc[val]).items()})
    trainer.logger.log_hyperparams(flat_config(cfg), metrics)
    log_embeddings(trainer.logger.experiment, model, prepared.labels, stage)
    for tag, figure in task.figures(prepared, val, prediction, scale).items():
        trainer.logger.experiment.add_figure(f"{stage}/{tag}", figure)
    path = _save(cfg, task, stage, model, prepared, scale.to_dict(), extra or {}, held_out)
    return StageResult(stage, path, metrics)


def _save(cfg, task: Task, stage: str, model: Blend, prepared: Prepared, target: dict, extra: dict,
          held_out: dict[str, np.ndarray] | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(cfg.checkpoints_dir, stage, f"{stage}-{cfg.split.kind}-seed{cfg.seed}-{stamp}.safetensors")
    for n in range(2, 100):  # two saves within a second keep both
        if not path.exists():
            break
        path = path.with_name(f"{stage}-{cfg.split.kind}-seed{cfg.seed}-{stamp}-{n}.safetensors")
    save_checkpoint(path, model, prepared.inputs, task=task.name, stage=stage, target=target,
                    extra={"split": task.split_signature(cfg), "config": OmegaConf.to_container(cfg, resolve=True), **extra},
                    held_out=held_out)
    log.info("saved %s", path)
    return path
