"""A compiled model's layout as JSON, and the empty modules rebuilt from it (to load tensors into)."""

from torch import nn

from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, TreeEnsemble
from pel_torch.learners.autorec import ItemAutoRec
from pel_torch.learners.bayesian_mf import DayBiasedMF
from pel_torch.learners.forecasting import ColumnForecast, WindowLSTM
from pel_torch.learners.linear import LinearModel
from pel_torch.learners.matrix_factorization import MatrixFactorization
from pel_torch.learners.nbeats import NBeats
from pel_torch.learners.neumf import NeuMF
from pel_torch.learners.neural_net import TabularMLP
from pel_torch.learners.sequence import SequenceRegressor
from pel_torch.learners.svdpp import SVDpp
from pel_torch.stack.blend import Blend, ScaledStack
from pel_torch.stack.modules import BaggedModule, EnsembleSelection, Stack, StackLayer, Standardize

LEAF_MODULES = {cls.__name__: cls for cls in (TreeEnsemble, PerfectTreeEnsemble, ObliviousEnsemble, TabularMLP, LinearModel,
                                               MatrixFactorization, DayBiasedMF, SVDpp, NeuMF, ItemAutoRec, SequenceRegressor, WindowLSTM, NBeats,
                                               ColumnForecast)}


def stack_spec(stack: Stack) -> dict:
    """Constructor arguments of every module in ``stack``: enough to rebuild it with the same shapes."""
    return {
        "standardize": stack.standardize.spec(),
        "passthrough": stack.passthrough,
        "head": stack.head.spec(),
        "layers": [
            {"names": layer.names,
             "columns": [bagged.columns for bagged in layer.learners],
             "learners": [[{"type": type(fold).__name__, **fold.spec()} for fold in bagged.folds] for bagged in layer.learners]}
            for layer in stack.layers
        ],
    }


def build_stack(spec: dict) -> Stack:
    """An unfitted ``Stack`` shaped like ``spec``; load a state dict into it."""
    layers = [
        StackLayer([BaggedModule([_leaf(fold) for fold in folds], columns) for folds, columns in zip(layer["learners"], layer["columns"])],
                   layer["names"])
        for layer in spec["layers"]
    ]
    return Stack(Standardize(**spec["standardize"]), layers, EnsembleSelection(**spec["head"]), spec["passthrough"])


def _leaf(spec: dict) -> nn.Module:
    arguments = dict(spec)
    kind = arguments.pop("type")
    if kind not in LEAF_MODULES:
        raise ValueError(f"unknown module type {kind!r} in checkpoint spec")
    return LEAF_MODULES[kind](**arguments)


def scaled_stack_spec(member: ScaledStack) -> dict:
    return {"stack": stack_spec(member.stack), "prior": scaled_stack_spec(member.prior) if member.prior is not None else None}


def build_scaled_stack(spec: dict) -> ScaledStack:
    prior = build_scaled_stack(spec["prior"]) if spec["prior"] is not None else None
    return ScaledStack(build_stack(spec["stack"]), prior)


def blend_spec(blend: Blend) -> dict:
    return {"names": blend.names, "members": [scaled_stack_spec(member) for member in blend.members]}


def build_blend(spec: dict) -> Blend:
    return Blend([build_scaled_stack(member) for member in spec["members"]], spec["names"])
