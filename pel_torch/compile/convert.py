"""Fitted learners and stacks -> torch modules. One converter per learner family, in a registry."""

import copy

from torch import nn

from pel_torch.compile.parse_catboost import parse_catboost
from pel_torch.compile.parse_lightgbm import parse_lightgbm
from pel_torch.compile.parse_sklearn import parse_forest
from pel_torch.compile.parse_xgboost import parse_xgboost
from pel_torch.compile.tree_modules import ObliviousEnsemble, tree_module
from pel_torch.learners.base import Learner
from pel_torch.learners.stacking import StackedEnsemble
from pel_torch.stack.modules import BaggedModule, EnsembleSelection, Stack, StackLayer, Standardize

# Fitted learner -> library-neutral ``TreeArrays``, for every learner of binary trees.
TREE_PARSERS = {
    "random_forest": lambda learner: parse_forest(learner.model_),
    "extra_trees": lambda learner: parse_forest(learner.model_),
    "lightgbm": lambda learner: parse_lightgbm(learner.model_.booster_),
    "xgboost": lambda learner: parse_xgboost(learner.model_.get_booster()),
}

CONVERTERS = {
    **{name: (lambda learner, parse=parse: tree_module(parse(learner))) for name, parse in TREE_PARSERS.items()},
    "catboost": lambda learner: ObliviousEnsemble.from_arrays(parse_catboost(learner.model_)),
    # Networks, embeddings and the linear model are torch modules already; a copy keeps later fine-tuning off the fitted learner.
    **{name: (lambda learner: copy.deepcopy(learner.model_).eval()) for name in ("neural_net", "linear", "mf", "svdpp", "neumf", "autorec", "bpmf", "lstm", "cnn",
                                                                             "window_lstm", "nbeats", "theta", "ets", "seasonal_naive")},
}


def to_torch(learner: Learner) -> nn.Module:
    """A fitted learner as an ``nn.Module`` ``(batch, n_inputs) -> (batch,)`` that reproduces ``learner.predict``."""
    if learner.name not in CONVERTERS:
        raise ValueError(f"no torch converter for learner {learner.name!r}")
    return CONVERTERS[learner.name](learner)


def compile_stack(ensemble: StackedEnsemble, mean, std) -> Stack:
    """The fitted ``ensemble`` with the featurizer's ``mean``/``std`` as one float64 ``Stack`` module."""
    layers = [
        StackLayer([BaggedModule([to_torch(model) for model in bagged.models_], None if bagged.columns is None else bagged.columns.tolist())
                    for bagged in layer], [b.name for b in layer])
        for layer in ensemble.layers_
    ]
    weights = ensemble.chosen_weights()
    head = EnsembleSelection(weights.shape[-1], None if ensemble.head_columns_ is None else ensemble.head_columns_.tolist())
    head.weights.data.copy_(head.weights.data.new_tensor(weights))
    return Stack(Standardize.from_arrays(mean, std), layers, head, ensemble.passthrough).double().eval()
