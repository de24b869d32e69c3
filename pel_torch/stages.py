"""The training stages: pretrain on ratings, fine-tune on box office, or train on box office from scratch.

Every stage ends in a checkpoint under ``checkpoints/<stage>/`` and metrics in TensorBoard.
Learners are fitted natively; evaluation and gradient fine-tuning run through ``PELModule``.
"""

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from pel_torch.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from pel_torch.compile import compile_stack
from pel_torch.compile.soft_splits import attach_soft_splits, detach_soft_splits
from pel_torch.errors import PelError
from pel_torch.data import schema
from pel_torch.features.targets import TargetScale, standardise_by_year, target_values
from pel_torch.inference import predict_batches, select_kernels
from pel_torch.learners.bagging import held_out_fold
from pel_torch.lit import PELModule
from pel_torch.pipeline import Prepared, build_featurizer, build_stack, prepare, split_signature
from pel_torch.stack.forecaster import Forecaster

log = logging.getLogger(__name__)
PRETRAIN_TARGETS = ("rating", "votes", "votes_year", "both")
FINETUNE_STRATEGIES = ("leaves", "prior", "refit")


@dataclass
class StageResult:
    stage: str
    checkpoint: Path
    metrics: dict[str, float]


def pretrain(cfg: DictConfig) -> StageResult:
    """Fit the stack on the rating table (the split's pretraining set only) and save it.

    With ``pretrain.chain``, one more stack per listed target is pretrained on the same films and
    saved under ``pretrain/chain/<target>/``; the main checkpoint names them, so ``stage=finetune``
    can build its head over all of them."""
    chain = chain_targets(cfg)
    prepared = prepare(cfg)
    logger = build_logger(cfg)
    metrics, members = {}, []
    for target in chain:
        path, member_metrics = _pretrain_stack(cfg, prepared, target, logger, Path("pretrain", "chain", target))
        members.append({"target": target, "checkpoint": str(path.relative_to(Path(cfg.checkpoints_dir, "pretrain")))})
        metrics.update({f"pretrain/{target}/oof_{k}": v for k, v in member_metrics.items()})
    path, main_metrics = _pretrain_stack(cfg, prepared, cfg.pretrain.target, logger, Path("pretrain"), chain=members)
    metrics.update({f"pretrain/oof_{k}": v for k, v in main_metrics.items()})
    logger.log_hyperparams(_flat_config(cfg), metrics)
    return StageResult("pretrain", path, metrics)


def chain_targets(cfg) -> list[str]:
    """``pretrain.chain``, checked: known targets, none twice, none the main ``pretrain.target``."""
    chain = list(cfg.pretrain.get("chain") or [])
    for target in [cfg.pretrain.target, *chain]:
        if target not in PRETRAIN_TARGETS:
            raise PelError(f"unknown pretraining target '{target}' in pretrain.target/pretrain.chain; choose from {', '.join(PRETRAIN_TARGETS)}")
    if len(set(chain)) != len(chain) or cfg.pretrain.target in chain:
        raise PelError(f"pretrain.chain={chain} repeats a target (pretrain.target={cfg.pretrain.target}); list each other target once")
    return chain


def _pretrain_stack(cfg, prepared: Prepared, kind: str, logger, folder: Path, chain=None) -> tuple[Path, dict]:
    rows, y, target = pretraining_target(prepared, kind)
    log.info("pretraining on %s films, target %s", f"{len(rows):,}", target["name"])
    ensemble = build_stack(cfg).fit(prepared.features[rows], y)
    model = Forecaster(compile_stack(ensemble, prepared.featurizer.mean_, prepared.featurizer.std_))
    logger.experiment.add_scalars(f"{folder.as_posix()}/selection_weights", dict(zip(ensemble.learner_names[-1], ensemble.weights_.tolist())))
    # Out-of-fold predictions of the pretraining films: the honest prior for those among them with box office.
    oof = {"ids": prepared.films[schema.ID].iloc[rows].astype(str).tolist(), "values": (ensemble.oof_ @ ensemble.weights_).tolist()}
    extra = {"oof": oof, **({"chain": chain} if chain else {})}
    path = _save(cfg, "pretrain", model, prepared.featurizer, target, extra=extra, folder=folder)
    return path, regression_metrics(y, ensemble.oof_ @ ensemble.weights_)


def scratch(cfg: DictConfig, prepared: Prepared | None = None) -> StageResult:
    """The paper's EL baseline: the same stack on box office only. ``prepared``: the films of
    ``cfg``'s split, already loaded by a caller that needs them too (featurized as ``prepare(cfg)`` would)."""
    prepared = prepare(cfg) if prepared is None else prepared
    scale, y = _box_office_target(prepared)
    return _validate_and_save(cfg, "scratch", _fit_box_office_stack(cfg, prepared, y), prepared, y, scale)


def _fit_box_office_stack(cfg, prepared: Prepared, y: np.ndarray) -> Forecaster:
    train = prepared.split.train
    return Forecaster(compile_stack(build_stack(cfg).fit(prepared.features[train], y[train]),
                                    prepared.featurizer.mean_, prepared.featurizer.std_))


def finetune(cfg: DictConfig) -> StageResult:
    """Reload a pretrain checkpoint and adapt it to box office with ``cfg.finetune.strategy``.

    With ``finetune.blend``, the result ends in a selection head: the fine-tuned stack blended with
    a box-office-only stack (EL), and, with the pretrain checkpoint's chain (``pretrain.chain``),
    with each chain member fine-tuned the same way, innermost first: rating + (votes_year + EL).
    Every weight is chosen on the validation films."""
    strategy = cfg.finetune.strategy
    if strategy not in FINETUNE_STRATEGIES:
        raise PelError(f"unknown finetune.strategy '{strategy}'; choose one of: {', '.join(FINETUNE_STRATEGIES)}")
    if strategy != "leaves" and (cfg.finetune.get("soft_splits") or {}).get("learners"):
        raise PelError(f"finetune.soft_splits needs finetune.strategy=leaves (got {strategy}); set finetune.soft_splits.learners=[]")
    if strategy != "leaves" and cfg.finetune.get("out_of_fold", False):
        raise PelError(f"finetune.out_of_fold needs finetune.strategy=leaves (got {strategy}); set finetune.out_of_fold=false")
    checkpoint = load_checkpoint(resolve_checkpoint(cfg, "pretrain"))
    check_compatible(cfg, checkpoint)
    prepared = prepare(cfg, featurizer=checkpoint.featurizer)
    scale, y = _box_office_target(prepared)
    blend = cfg.finetune.get("blend", False)
    # Every checkpoint is loaded and checked before any fine-tuning, so a bad one fails in seconds.
    members = chain_members(cfg, checkpoint)
    partner, source = _box_office_partner(cfg, prepared, y) if blend else (None, None)
    heads = []
    for member in reversed(members):
        partner, weight = _fine_tuned(cfg, member, prepared, y, partner)
        heads.insert(0, {"target": member.spec["target"]["name"], "pretrain_checkpoint": str(member.path), "blend_weight": weight})
        log.info("chain: %s stack fine-tuned, weight %.2f on the stacks beneath it", heads[0]["target"], weight)
    model, weight = _fine_tuned(cfg, checkpoint, prepared, y, partner)
    extra = {"strategy": strategy, "pretrain_checkpoint": str(checkpoint.path)}
    if blend:
        log.info("blend: weight %.2f on the %s (innermost: %s), chosen on validation", weight,
                 "chain beneath" if heads else "box-office-only stack", source)
        extra.update({"blend_weight": weight, "blend_source": source, **({"chain": heads} if heads else {})})
    return _validate_and_save(cfg, "finetune", model, prepared, y, scale, extra=extra)


def _fine_tuned(cfg, checkpoint: Checkpoint, prepared: Prepared, y: np.ndarray, partner) -> tuple[Forecaster, float | None]:
    """``checkpoint`` fine-tuned by ``finetune.strategy``, blended with ``partner`` (if any) at the
    weight with the lowest validation error."""
    model = {"leaves": _finetune_leaves, "prior": _finetune_prior, "refit": _finetune_refit}[cfg.finetune.strategy](cfg, checkpoint, prepared, y)
    if partner is None:
        return model, None
    val = prepared.split.val
    weight = blend_weight(predict_batches(model, prepared.raw[val]), predict_batches(partner, prepared.raw[val]), y[val])
    model.set_partner(partner, weight)
    return model, weight


def chain_members(cfg, checkpoint: Checkpoint) -> list[Checkpoint]:
    """The pretrain checkpoints ``checkpoint`` names as its chain (``pretrain.chain``), checked to
    share its films, split and featurizer; none without a head (``finetune.blend`` and ``finetune.chain``)."""
    chain = checkpoint.spec.get("extra", {}).get("chain", [])
    if not (cfg.finetune.get("blend", False) and cfg.finetune.get("chain", True)):
        if chain:
            log.info("finetune.blend=false or finetune.chain=false: the chain members of %s stay out", checkpoint.path)
        return []
    members = []
    for entry in chain:
        path = checkpoint.path.parent / entry["checkpoint"]
        if not path.is_file():
            raise CheckpointError(f"{checkpoint.path}: its chain member '{entry['target']}' ({path}) is missing; "
                                  "pretrain again (python train.py stage=pretrain) or set finetune.chain=false")
        member = load_checkpoint(path)
        check_compatible(cfg, member)
        if member.spec["stage"] != "pretrain" or not _same_featurizer(member.featurizer, checkpoint.featurizer):
            raise CheckpointError(f"{path}: not a chain member of {checkpoint.path} (another stage or featurizer); "
                                  "pretrain again (python train.py stage=pretrain) or set finetune.chain=false")
        members.append(member)
    return members


def _same_featurizer(a, b) -> bool:
    (arrays_a, spec_a), (arrays_b, spec_b) = a.state(), b.state()
    return spec_a == spec_b and arrays_a.keys() == arrays_b.keys() and all(np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)


BLEND_WEIGHTS = np.round(np.arange(0, 1.0001, 0.05), 2)


def blend_weight(own: np.ndarray, partner: np.ndarray, y: np.ndarray) -> float:
    """The partner's weight in ``(1 - w) * own + w * partner`` with the lowest squared error on ``y``,
    from a grid of 0.05 (a coarse grid: the validation films also early-stop fine-tuning)."""
    errors = [float(np.mean(((1 - w) * own + w * partner - y) ** 2)) for w in BLEND_WEIGHTS]
    return float(BLEND_WEIGHTS[int(np.argmin(errors))])


def _box_office_partner(cfg, prepared: Prepared, y: np.ndarray) -> tuple[Forecaster, str]:
    """The stack to blend with: ``finetune.blend_ckpt`` (same split and features), else EL fitted on box office now.

    The checkpoint may be a scratch one (EL) or another fine-tuned one, itself with a head: a
    chain of checkpoints makes a head over several pretrained stacks (rating + (votes_year + EL)),
    each weight chosen on the validation films."""
    path = cfg.finetune.get("blend_ckpt")
    if not path:
        return _with_fitting_kernels(cfg, _fit_box_office_stack(cfg, prepared, y)), "fitted here"
    checkpoint = load_checkpoint(path)
    check_compatible(cfg, checkpoint)
    if checkpoint.spec["stage"] not in ("scratch", "finetune"):
        raise CheckpointError(f"finetune.blend_ckpt={path}: a {checkpoint.spec['stage']} checkpoint; blend with a box-office checkpoint "
                              "(python train.py stage=scratch, or another stage=finetune) or leave blend_ckpt=null to fit one")
    if list(checkpoint.featurizer.feature_names_) != list(prepared.featurizer.feature_names_):
        raise CheckpointError(f"finetune.blend_ckpt={path}: its features differ from the pretrain checkpoint's; "
                              "train both with the same features config")
    return _with_fitting_kernels(cfg, checkpoint.model.double().eval()), str(checkpoint.path)


def pretraining_target(prepared: Prepared, kind: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rows of the pretraining set with a target, the standardised target, and its description.

    ``both`` is the mean of the standardised rating and standardised log review count (each
    where known): one reception score, so one stack can learn from both signals. ``votes_year`` is
    the log review count standardised among films of the same years (``standardise_by_year``).
    """
    if kind not in PRETRAIN_TARGETS:
        raise PelError(f"unknown pretrain.target '{kind}'; choose one of: {', '.join(PRETRAIN_TARGETS)}")
    rows = prepared.split.pretrain
    if kind == "votes_year":
        y = standardise_by_year(target_values(prepared.films, "votes")[rows], prepared.films[schema.YEAR].to_numpy(dtype="float64")[rows])
        known = ~np.isnan(y)
        return rows[known], y[known], {"name": kind, "log": False, "mean": 0.0, "std": 1.0}
    names = ("rating", "votes") if kind == "both" else (kind,)
    scales = [TargetScale.fit(prepared.films, name, rows) for name in names]
    standardised = np.column_stack([scale.encode(prepared.films)[rows] for scale in scales])
    known = ~np.isnan(standardised).all(axis=1)
    y = np.nanmean(standardised[known], axis=1)
    target = scales[0].to_dict() if kind != "both" else {"name": "both", "log": False, "mean": 0.0, "std": 1.0,
                                                          "parts": [s.to_dict() for s in scales]}
    return rows[known], y, target


def _box_office_target(prepared: Prepared) -> tuple[TargetScale, np.ndarray]:
    scale = TargetScale.fit(prepared.films, "revenue", prepared.split.train)
    return scale, scale.encode(prepared.films)


def _finetune_leaves(cfg, checkpoint: Checkpoint, prepared: Prepared, y: np.ndarray) -> Forecaster:
    """Gradient descent on leaf values, networks and the selection head through the compiled stack."""
    model = _with_fitting_kernels(cfg, copy.deepcopy(checkpoint.model).double())
    train, val = prepared.split.train, prepared.split.val
    # Start from the least-squares map of the pretrained scale (ratings) onto box office.
    slope, intercept = np.polyfit(predict_batches(model, prepared.raw[train]), y[train], 1)
    with torch.no_grad():
        model.output_scale.mul_(slope)
        model.output_shift.mul_(slope).add_(intercept)
    f = cfg.finetune
    soft = f.get("soft_splits") or {"learners": []}
    soft_splits = attach_soft_splits(model.stack, list(soft["learners"])) if soft["learners"] else []
    module = PELModule(model, learning_rate=f.learning_rate, train=tuple(f.train), weight_decay=f.weight_decay,
                       soft_splits=soft_splits, hparams=_flat_config(cfg))
    callbacks = [BestWeights(), pl.callbacks.EarlyStopping("val/loss", patience=f.patience)]
    if soft_splits:
        callbacks.insert(0, SoftSplitSchedule(soft_splits, soft["temperature"], soft["anneal_epochs"]))
    # Out of fold: each training film is held out of one fold model per learner, as in the stack's own fit.
    folds = held_out_fold(len(train), model.stack.n_folds(), cfg.seed) if f.get("out_of_fold", False) else None
    trainer = build_trainer(cfg, max_epochs=f.max_epochs, callbacks=callbacks)
    trainer.fit(module, _loader(prepared.raw[train], y[train], f.batch_size, shuffle=True, seed=cfg.seed, folds=folds),
                _loader(prepared.raw[val], y[val], f.batch_size))
    return module.model.eval()


def _finetune_prior(cfg, checkpoint: Checkpoint, prepared: Prepared, y: np.ndarray) -> Forecaster:
    """A box-office stack that sees the pretrained model's prediction as one more feature."""
    prior = _with_fitting_kernels(cfg, checkpoint.model.double().eval())
    train = prepared.split.train
    prediction = prior_feature(prior, checkpoint, prepared)
    raw = np.hstack([prepared.raw, prediction[:, None]])
    mean = np.append(prepared.featurizer.mean_, prediction[train].mean())
    std = np.append(prepared.featurizer.std_, prediction[train].std() or 1.0)
    features = ((raw - mean) / std).astype(np.float32)  # exactly what the compiled Standardize computes
    ensemble = build_stack(cfg).fit(features[train], y[train])
    return Forecaster(compile_stack(ensemble, mean, std), prior=prior)


def prior_feature(prior: Forecaster, checkpoint: Checkpoint, prepared: Prepared) -> np.ndarray:
    """The pretrained prediction of every film: out-of-fold for the films it was pretrained on (as
    a held-out film will see it), the model's own prediction for the rest."""
    prediction = predict_batches(prior, prepared.raw)
    oof = checkpoint.spec.get("extra", {}).get("oof")
    if oof is None:
        log.warning("%s holds no out-of-fold predictions (written before pel_torch stored them): the prior of its "
                    "pretraining films is in-sample; pretrain again for the honest one", checkpoint.path)
        return prediction
    ids = prepared.films[schema.ID].astype(str)
    known = pd.Series(oof["values"], index=pd.Index(oof["ids"]))
    known = known[~known.index.duplicated(keep=False)]  # an id that names two films can't say which
    pretrained = ids.isin(known.index).to_numpy()
    prediction[pretrained] = known.reindex(ids[pretrained]).to_numpy()
    log.info("prior: out-of-fold predictions for %s of %s films", f"{pretrained.sum():,}", f"{len(ids):,}")
    return prediction


def _finetune_refit(cfg, checkpoint: Checkpoint, prepared: Prepared, y: np.ndarray) -> Forecaster:
    """Refit every learner on box office; the networks start from the pretrained networks' weights."""
    ensemble = build_stack(cfg)
    pretrained_layers = checkpoint.model.stack.layers
    if len(pretrained_layers) != len(ensemble.layers):
        raise CheckpointError(f"{checkpoint.path}: pretrained stack has {len(pretrained_layers)} layers, the config {len(ensemble.layers)}; "
                              "use the pretraining stack config")
    for learners, pretrained in zip(ensemble.layers, pretrained_layers):
        for learner in learners:
            if learner.name == "neural_net" and "neural_net" in pretrained.names:
                learner.initial_network = pretrained.learners[pretrained.names.index("neural_net")].folds[0]
    train = prepared.split.train
    ensemble.fit(prepared.features[train], y[train])
    return Forecaster(compile_stack(ensemble, prepared.featurizer.mean_, prepared.featurizer.std_))


def _validate_and_save(cfg, stage, model, prepared, y, scale, extra=None) -> StageResult:
    val = prepared.split.val
    module = PELModule(_with_fitting_kernels(cfg, model), hparams=_flat_config(cfg))
    # One process scores every validation film exactly once (a distributed sampler pads uneven shards).
    trainer = build_trainer(cfg, max_epochs=1, single_device=True)
    results = trainer.validate(module, _loader(prepared.raw[val], y[val], 1024), verbose=False)[0]
    metrics = {k: float(v) for k, v in results.items()}
    trainer.logger.log_hyperparams(_flat_config(cfg), metrics)
    path = _save(cfg, stage, model, prepared.featurizer, scale.to_dict(), extra)
    return StageResult(stage, path, metrics)


def _with_fitting_kernels(cfg, model):
    """The C++ kernels speed up fine-tuning and validation too (leaf gradients are unchanged);
    ``torch.compile`` is for inference only, so ``kernels=compiled`` fits with ``auto``."""
    kernels = cfg.get("kernels", "auto")
    return select_kernels(model, "auto" if kernels == "compiled" else kernels)[0]


def regression_metrics(y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    residual = y - prediction
    return {"r2": float(1 - (residual ** 2).sum() / ((y - y.mean()) ** 2).sum()),
            "mse": float((residual ** 2).mean()), "mae": float(np.abs(residual).mean())}


class SoftSplitSchedule(pl.Callback):
    """Trains through soft splits whose temperature falls linearly from ``temperature`` to 0 (hard)
    at ``anneal_epochs``. Validation is always hard, with the threshold offsets committed, so early
    stopping and ``BestWeights`` judge the trees that will be saved."""

    def __init__(self, soft_splits: list, temperature: float, anneal_epochs: int):
        if temperature <= 0 or anneal_epochs < 1:
            raise PelError(f"finetune.soft_splits: temperature must be > 0 and anneal_epochs >= 1 (got {temperature}, {anneal_epochs})")
        self.soft_splits, self.temperature, self.anneal_epochs = soft_splits, float(temperature), int(anneal_epochs)

    def on_train_epoch_start(self, trainer, module):
        temperature = self.temperature * max(0.0, 1 - trainer.current_epoch / self.anneal_epochs)
        for soft in self.soft_splits:
            soft.temperature = temperature
        module.log("train/split_temperature", temperature, on_step=False, on_epoch=True)

    def on_validation_epoch_start(self, trainer, module):
        for soft in self.soft_splits:
            soft.commit()
            soft.temperature = 0.0

    def on_fit_end(self, trainer, module):
        detach_soft_splits(self.soft_splits)


class BestWeights(pl.Callback):
    """Keeps the weights of the best validation loss and puts them back when fitting ends.

    Restoring inside ``on_fit_end`` (in every process) means that with ``ddp_spawn`` the weights
    Lightning sends back to the main process are already the best ones.
    """

    def __init__(self):
        self.best, self.state = np.inf, None

    def on_validation_end(self, trainer, module):
        loss = float(trainer.callback_metrics.get("val/loss", np.inf))
        if loss < self.best:
            self.best, self.state = loss, copy.deepcopy(module.model.state_dict())

    def on_fit_end(self, trainer, module):
        if self.state is not None:
            module.model.load_state_dict(self.state)


def build_logger(cfg) -> TensorBoardLogger:
    return TensorBoardLogger(save_dir=cfg.logger.save_dir, name=cfg.stage, version=time.strftime("%Y%m%d-%H%M%S"),
                             default_hp_metric=False)


def build_trainer(cfg, *, max_epochs: int, callbacks=(), single_device: bool = False, logger: bool = True) -> pl.Trainer:
    t = cfg.trainer
    devices, strategy = (1, "auto") if single_device else (t.devices, t.strategy)
    if "spawn" in str(strategy):
        # A compiled stack holds thousands of small tensors; passing each through its own file
        # descriptor to the spawned processes fails ("unable to resize file"), files do not.
        torch.multiprocessing.set_sharing_strategy("file_system")
    return pl.Trainer(accelerator=t.accelerator, devices=devices, strategy=strategy, max_epochs=max_epochs,
                      logger=build_logger(cfg) if logger else False, callbacks=list(callbacks), enable_checkpointing=False,
                      enable_model_summary=False, log_every_n_steps=1, num_sanity_val_steps=0,
                      enable_progress_bar=t.progress_bar, deterministic=True)


def _loader(raw, y, batch_size, shuffle=False, seed=0, folds=None) -> DataLoader:
    tensors = [torch.from_numpy(np.ascontiguousarray(raw)), torch.from_numpy(np.ascontiguousarray(y))]
    dataset = TensorDataset(*tensors, *([] if folds is None else [torch.from_numpy(folds)]))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def resolve_checkpoint(cfg, stage: str) -> Path:
    """``cfg.ckpt_path``, or the newest checkpoint of ``stage`` under ``cfg.checkpoints_dir``."""
    if cfg.get("ckpt_path"):
        return Path(cfg.ckpt_path)
    candidates = sorted(Path(cfg.checkpoints_dir, stage).glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise CheckpointError(f"no {stage} checkpoint under {Path(cfg.checkpoints_dir, stage)}; "
                              f"run python train.py stage={stage} first or pass ckpt_path=")
    return candidates[-1]


def check_compatible(cfg, checkpoint: Checkpoint) -> None:
    """The checkpoint must come from the same films, split and feature settings: anything else leaks or mismatches."""
    saved = checkpoint.spec.get("extra", {}).get("split")
    if saved != split_signature(cfg):
        raise CheckpointError(f"{checkpoint.path}: pretrained on another data/split ({saved}); "
                              f"pretrain again with this config (now {split_signature(cfg)})")
    expected = build_featurizer(cfg)
    _, spec = checkpoint.featurizer.state()
    for name in ("targets", "lead_cast", "smoothing", "top_languages", "top_countries", "min_genre_films", "temporal_differences"):
        want = getattr(expected, name)
        if (list(want) if isinstance(want, tuple) else want) != spec[name]:
            raise CheckpointError(f"{checkpoint.path}: its features differ from the config's (features.{name}: "
                                  f"checkpoint {spec[name]}, config {want}); use the checkpoint's feature settings")


def _save(cfg, stage, model, featurizer, target, extra=None, folder: Path | None = None) -> Path:
    name = f"{stage}-{cfg.split.kind}-seed{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"
    path = save_checkpoint(Path(cfg.checkpoints_dir, folder or stage, name), model, featurizer, stage=stage, target=target,
                           extra={"split": split_signature(cfg), "config": OmegaConf.to_container(cfg, resolve=True), **(extra or {})})
    log.info("saved %s", path)
    return path


def _flat_config(cfg) -> dict:
    flat = {}

    def walk(prefix, node):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            else:
                flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk("", OmegaConf.to_container(cfg, resolve=True))
    return flat
