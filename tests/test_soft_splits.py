"""Soft splits: at a vanishing temperature they are the hard trees; offsets move thresholds and carry gradients."""

import numpy as np
import pytest
import torch

from conftest import SMALL
from pel_torch.compile import to_torch
from pel_torch.compile.soft_splits import SoftSplits, attach_soft_splits, detach_soft_splits
from pel_torch.compile.tree_modules import TreeEnsemble
from pel_torch.errors import PelError
from pel_torch.learners import make_learner


@pytest.fixture(scope="module", params=["catboost", "xgboost", "lightgbm"])
def compiled(request, box_office):
    n = box_office["n_train"]
    learner = make_learner(request.param, SMALL[request.param], seed=5).fit(box_office["X"][:n], box_office["y"][:n])
    return to_torch(learner)


def _hard(module, x):
    with torch.no_grad():
        return module(x).to(torch.float64)


def test_vanishing_temperature_is_the_hard_ensemble(compiled, box_office):
    x = torch.from_numpy(box_office["X"][:300]).double()
    soft = SoftSplits(compiled, temperature=1e-12)
    probabilities = soft.leaf_probabilities(x)
    # every row reaches exactly one leaf per tree, the one the hard traversal reaches
    assert torch.allclose(probabilities.sum(dim=2), torch.ones((), dtype=torch.float64), atol=1e-12)
    assert (probabilities.amax(dim=2) > 1 - 1e-9).all()
    np.testing.assert_allclose(soft.forward(x).detach().numpy(), _hard(compiled, x).numpy(), rtol=1e-6, atol=1e-6)


def test_soft_routing_is_a_distribution_with_gradients_to_thresholds_and_inputs(compiled, box_office):
    x = torch.from_numpy(box_office["X"][:64]).double().requires_grad_(True)
    soft = SoftSplits(compiled, temperature=0.5)
    probabilities = soft.leaf_probabilities(x)
    assert torch.allclose(probabilities.sum(dim=2), torch.ones((), dtype=torch.float64), atol=1e-9)
    assert ((probabilities > 0.01) & (probabilities < 0.99)).any()        # really soft
    compiled.soft = soft
    try:
        out = compiled(x)                                                    # the module routes softly now
    finally:
        compiled.soft = None
    out.square().sum().backward()
    assert soft.offset.grad.abs().sum() > 0 and x.grad.abs().sum() > 0
    assert compiled.leaf_values.grad.abs().sum() > 0


def test_commit_moves_thresholds_into_the_hard_trees(compiled, box_office):
    module = __import__("copy").deepcopy(compiled)
    x = torch.from_numpy(box_office["X"][:300]).double()
    soft = SoftSplits(module, temperature=1e-12)
    with torch.no_grad():
        soft.offset.copy_(torch.randn(soft.offset.shape, generator=torch.Generator().manual_seed(0)) * 0.3)
    moved = soft.forward(x).detach().to(torch.float64)
    assert not torch.allclose(moved, _hard(compiled, x))                   # the offsets matter
    soft.commit()
    assert soft.offset.abs().sum() == 0
    np.testing.assert_allclose(_hard(module, x).numpy(), moved.numpy(), rtol=1e-6, atol=1e-6)
    # with the offsets committed, zero offsets and a vanishing temperature are still the hard trees
    np.testing.assert_allclose(soft.forward(x).detach().numpy(), _hard(module, x).numpy(), rtol=1e-6, atol=1e-6)


def test_child_pointer_forests_are_refused():
    with pytest.raises(TypeError, match="soft splits need"):
        SoftSplits(TreeEnsemble(n_nodes=3, n_trees=1, depth=1))


def test_attaching_refuses_forests_too_big_to_soften(small_stack):
    _, stack = small_stack
    with pytest.raises(PelError, match="random_forest compiles to .* leaves per fold model; soft splits weigh every leaf"):
        attach_soft_splits(stack, ["catboost", "random_forest"])
    assert all(fold.soft is None for fold in stack.layers[-1].learners[0].folds)     # nothing half-attached
    attached = attach_soft_splits(stack, ["catboost", "xgboost"])
    try:
        assert len(attached) == 2 * len(stack.layers[-1].learners[0].folds)
    finally:
        detach_soft_splits(attached)
    assert all(getattr(fold, "soft", None) is None for learner in stack.layers[-1].learners for fold in learner.folds)
