"""A compiled stack's layout as JSON, and the empty modules rebuilt from it (to load tensors into)."""

from torch import nn

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, TreeEnsemble
from pel_torch.learners.neural_net import TabularMLP
from pel_torch.stack.forecaster import Forecaster
from pel_torch.stack.modules import BaggedModule, EnsembleSelection, Stack, StackLayer, Standardize

LEAF_MODULES = {cls.__name__: cls for cls in (TreeEnsemble, PerfectTreeEnsemble, ObliviousEnsemble, TabularMLP)}


def stack_spec(stack: Stack) -> dict:
    """Constructor arguments of every module in ``stack``: enough to rebuild it with the same shapes."""
    return {
        "standardize": stack.standardize.spec(),
        "passthrough": stack.passthrough,
        "head": stack.head.spec(),
        "layers": [
            {"names": layer.names,
             "learners": [[{"type": type(fold).__name__, **fold.spec()} for fold in bagged.folds] for bagged in layer.learners]}
            for layer in stack.layers
        ],
    }


def build_stack(spec: dict) -> Stack:
    """An unfitted ``Stack`` shaped like ``spec``; load a state dict into it."""
    layers = [
        StackLayer([BaggedModule([_leaf(fold) for fold in folds]) for folds in layer["learners"]], layer["names"])
        for layer in spec["layers"]
    ]
    return Stack(Standardize(**spec["standardize"]), layers, EnsembleSelection(**spec["head"]), spec["passthrough"])


def _leaf(spec: dict) -> nn.Module:
    arguments = dict(spec)
    kind = arguments.pop("type")
    if kind not in LEAF_MODULES:
        raise ValueError(f"unknown module type {kind!r} in checkpoint spec")
    return LEAF_MODULES[kind](**arguments)


def forecaster_spec(forecaster: Forecaster) -> dict:
    prior, partner = forecaster.prior, forecaster.partner
    return {"stack": stack_spec(forecaster.stack), "prior": forecaster_spec(prior) if prior is not None else None,
            "partner": forecaster_spec(partner) if partner is not None else None}


def build_forecaster(spec: dict) -> Forecaster:
    prior = build_forecaster(spec["prior"]) if spec["prior"] is not None else None
    partner = build_forecaster(spec["partner"]) if spec.get("partner") is not None else None  # absent before blending existed
    return Forecaster(build_stack(spec["stack"]), prior, partner)
