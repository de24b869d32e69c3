"""Fine-tuning strategies: how a pretrained stack is adapted to the task's target.

| strategy | what carries over from pretraining |
|---|---|
| ``leaves`` | gradient descent through the compiled stack on leaf values, networks, the selection head and the output affine, early-stopped on validation |
| ``prior`` | the pretrained stack's prediction becomes one more input of a stack fitted on the target |
| ``refit`` | every learner is refitted on the target; learners that can (the networks) start from their pretrained weights |

Each takes a pretrained ``ScaledStack`` and returns a new one; the pretrained stack is never modified.
A stack fitted on the target here (``prior``, ``refit``) has its head chosen on the validation rows,
as ``stage=scratch`` does (``StackedEnsemble.select_on``).
"""

import copy
import logging

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from pel_torch.checkpoint import CheckpointError
from pel_torch.compile import compile_stack
from pel_torch.errors import PelError
from pel_torch.inference import predict_batches, select_training_kernels
from pel_torch.lit import BestWeights, PELModule, rows_loader
from pel_torch.pipeline import build_stack, build_trainer, flat_config
from pel_torch.stack.blend import ScaledStack
from pel_torch.tasks.base import Prepared

log = logging.getLogger(__name__)


def finetune_leaves(cfg, pretrained: ScaledStack, prepared: Prepared, y: np.ndarray, oof: dict | None = None) -> ScaledStack:
    """Gradient descent on leaf values, networks and the selection head through the compiled stack."""
    model = select_training_kernels(copy.deepcopy(pretrained).double(), cfg.kernels)
    train, val = prepared.split.train, prepared.split.val
    # Start from the least-squares map of the pretrained scale (ratings, say) onto the target.
    slope, intercept = np.polyfit(predict_batches(model, prepared.raw[train]), y[train], 1)
    with torch.no_grad():
        model.output_scale.mul_(slope)
        model.output_shift.mul_(slope).add_(intercept)
    f = cfg.finetune
    module = PELModule(model, learning_rate=f.learning_rate, train=tuple(f.train), hparams=flat_config(cfg))
    trainer = build_trainer(cfg, max_epochs=f.max_epochs, callbacks=[BestWeights(), pl.callbacks.EarlyStopping("val/loss", patience=f.patience)])
    trainer.fit(module, rows_loader(prepared.raw[train], y[train], f.batch_size, shuffle=True, seed=cfg.seed),
                rows_loader(prepared.raw[val], y[val], f.batch_size))
    return module.model.eval()


def finetune_prior(cfg, pretrained: ScaledStack, prepared: Prepared, y: np.ndarray, oof: dict | None = None) -> ScaledStack:
    """A stack fitted on the target that sees the pretrained stack's prediction as one more input."""
    prior = select_training_kernels(copy.deepcopy(pretrained).double().eval(), cfg.kernels)
    train = prepared.split.train
    prediction = prior_feature(prior, oof, prepared)
    raw = np.hstack([prepared.raw, prediction[:, None]])
    mean = np.append(prepared.inputs.mean_, prediction[train].mean())
    std = np.append(prepared.inputs.std_, prediction[train].std() or 1.0)
    features = ((raw - mean) / std).astype(np.float32)  # exactly what the compiled Standardize computes
    groups = None if prepared.groups is None else {**prepared.groups, "features": np.append(prepared.groups["features"], raw.shape[1] - 1)}
    val = prepared.split.val
    ensemble = build_stack(cfg).fit(features[train], y[train], groups, prepared.sizes,
                                    prepared.times_of(train)).select_on(features[val], y[val])
    return ScaledStack(compile_stack(ensemble, mean, std), prior=prior)


def prior_feature(prior: ScaledStack, oof: dict | None, prepared: Prepared) -> np.ndarray:
    """The pretrained prediction of every row: out-of-fold for the rows it was pretrained on (as
    a held-out row will see it), the model's own prediction for the rest."""
    prediction = predict_batches(prior, prepared.raw)
    if oof is None:
        log.warning("the pretrain checkpoint holds no out-of-fold predictions: the prior of its pretraining rows is "
                    "in-sample; pretrain again for the honest one")
        return prediction
    ids = pd.Series(prepared.ids)
    known = pd.Series(oof["values"], index=pd.Index(oof["ids"]))
    known = known[~known.index.duplicated(keep=False)]  # an id that names two rows can't say which
    pretrained = ids.isin(known.index).to_numpy()
    prediction[pretrained] = known.reindex(ids[pretrained]).to_numpy()
    log.info("prior: out-of-fold predictions for %s of %s rows", f"{pretrained.sum():,}", f"{len(ids):,}")
    return prediction


def finetune_refit(cfg, pretrained: ScaledStack, prepared: Prepared, y: np.ndarray, oof: dict | None = None) -> ScaledStack:
    """Refit every learner on the target; learners that can warm-start do so from their pretrained first fold."""
    ensemble = build_stack(cfg)
    pretrained_layers = pretrained.stack.layers
    if len(pretrained_layers) != len(ensemble.layers):
        raise CheckpointError(f"the pretrained stack has {len(pretrained_layers)} layers, the config {len(ensemble.layers)}; "
                              "fine-tune with the stack config it was pretrained with")
    for learners, layer in zip(ensemble.layers, pretrained_layers):
        for learner in learners:
            if learner.name in layer.names:
                learner.warm_start(layer.learners[layer.names.index(learner.name)].folds[0])
    train, val = prepared.split.train, prepared.split.val
    ensemble.fit(prepared.features[train], y[train], prepared.groups, prepared.sizes,
                 prepared.times_of(train)).select_on(prepared.features[val], y[val])
    return ScaledStack(compile_stack(ensemble, prepared.inputs.mean_, prepared.inputs.std_))


STRATEGIES = {"leaves": finetune_leaves, "prior": finetune_prior, "refit": finetune_refit}


def strategy(name: str):
    if name not in STRATEGIES:
        raise PelError(f"unknown finetune.strategy '{name}'; choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
