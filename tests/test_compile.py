"""Parity is the contract: every compiled learner, and the whole stack, reproduces the native predictions."""

import copy

import numpy as np
import pytest
import torch

from conftest import SMALL, learner_rows
from pel_torch.compile import to_torch
from pel_torch.compile.convert import TREE_PARSERS
from pel_torch.compile.parse_xgboost import base_score
from pel_torch.compile.tree_arrays import concatenate_trees, float32_at_most, float32_below, perfect_layout
from pel_torch.compile.tree_modules import PerfectTreeEnsemble, TreeEnsemble
from pel_torch.learners import LEARNERS, make_learner

RTOL, ATOL = 1e-4, 1e-6


def assert_parity(actual, expected, rows=slice(None)):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64)[rows], np.asarray(expected)[rows], rtol=RTOL, atol=ATOL)


@pytest.fixture(scope="module", params=sorted(LEARNERS))
def fitted(request, box_office, id_rows):
    """A fitted learner of each kind and the rows it reads: real film features, or synthetic ids and histories."""
    learner = make_learner(request.param, SMALL[request.param], seed=3)
    X, y, sizes, n = learner_rows(learner, box_office, id_rows)
    return learner.fit(X[:n], y[:n], sizes), X


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_learner_parity_on_real_rows(fitted, box_office, dtype):
    learner, X = fitted
    module = to_torch(learner).to(dtype)
    with torch.no_grad():
        out = module(torch.from_numpy(X).to(dtype))
    native = learner.predict(X)
    assert_parity(out, native)
    if learner.inputs == ("features",):
        assert_parity(out, native, rows=box_office["had_missing"])
        assert box_office["had_missing"].sum() > 100


def test_leaves_are_trainable_and_forward_keeps_gradients(fitted):
    learner, X = fitted
    module = to_torch(learner)
    if not list(module.parameters()):
        pytest.skip(f"{learner.name} is a forecast taken as it is: nothing to train")
    out = module(torch.from_numpy(X[:64]))
    assert out.requires_grad
    out.square().mean().backward()
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_full_stack_parity_float64(small_stack, box_office):
    ensemble, stack = small_stack
    with torch.no_grad():
        out = stack(torch.from_numpy(box_office["raw"]))
        layers = stack.layer_outputs(torch.from_numpy(box_office["raw"]))
    assert out.dtype == torch.float64 and out.shape == (len(box_office["raw"]),)
    native_layers = ensemble.predict_layers(box_office["X"])
    for native, compiled in zip(native_layers, layers):
        assert_parity(compiled, native)
    assert_parity(out, ensemble.predict(box_office["X"]))
    assert_parity(out, ensemble.predict(box_office["X"]), rows=box_office["had_missing"])


def test_full_stack_parity_float32(small_stack, box_office):
    ensemble, stack = small_stack
    stack32 = copy.deepcopy(stack).float()
    with torch.no_grad():
        out = stack32(torch.from_numpy(box_office["raw"]))
    assert out.dtype == torch.float32
    assert_parity(out, ensemble.predict(box_office["X"]))


def test_a_head_per_step_compiles_with_each_rows_own_weights(id_rows):
    from pel_torch.compile import compile_stack
    from pel_torch.learners.stacking import StackedEnsemble

    X, y, groups, sizes = id_rows
    layer = [make_learner(name, SMALL[name], seed=0) for name in ("seasonal_naive", "theta", "nbeats")]
    ensemble = StackedEnsemble([layer], n_folds=2, seed=0, progress=False, head_groups="step").fit(X[:600], y[:600], groups, sizes)
    ensemble.select_on(X[600:], y[600:])
    assert ensemble.weights_.shape == (3, 3)                  # 3 steps x 3 members
    stack = compile_stack(ensemble, np.zeros(X.shape[1]), np.ones(X.shape[1]))
    with torch.no_grad():
        out = stack(torch.from_numpy(X))
    step = X[:, groups["step"]].argmax(axis=1)
    assert_parity(out, ensemble.predict(X))
    assert_parity(out, (ensemble.predict_layers(X)[-1] * ensemble.weights_[step]).sum(axis=1))


def test_stack_gradients_reach_leaves_network_and_head(small_stack, box_office):
    stack = copy.deepcopy(small_stack[1]).train()
    stack(torch.from_numpy(box_office["raw"][:128])).square().mean().backward()
    named = dict(stack.named_parameters())
    assert named["head.weights"].grad is not None
    first = stack.layers[0].learners
    assert first[0].folds[0].leaf_values.grad.abs().sum() > 0          # catboost
    assert first[2].folds[0].leaf_values.grad.abs().sum() > 0                # lightgbm
    assert first[4].folds[0].body[0].weight.grad.abs().sum() > 0       # neural net


def test_predicting_skips_the_last_layers_learners_the_head_leaves_at_zero_and_fine_tuning_does_not(small_stack, box_office):
    stack = copy.deepcopy(small_stack[1]).eval()
    raw = torch.from_numpy(box_office["raw"][:64])
    with torch.no_grad():
        stack.head.weights.copy_(torch.tensor([0.0, 1.0] + [0.0] * (stack.head.weights.shape[-1] - 2), dtype=torch.float64))
        expected = stack.layer_outputs(raw)[-1][:, 1]
    calls = []
    for learner in stack.layers[-1].learners:
        learner.register_forward_hook(lambda module, args, out: calls.append(module))
    with torch.no_grad():
        out = stack(raw)
    assert calls == [stack.layers[-1].learners[1]]       # the one learner with weight
    torch.testing.assert_close(out, expected)
    calls.clear()
    stack(raw).sum().backward()                           # a weight at 0 may grow: every learner runs
    assert len(calls) == len(stack.layers[-1].learners) and stack.head.weights.grad is not None
    # the checkpoint's head over stacks skips a member at 0 the same way
    from pel_torch.stack.blend import Blend, ScaledStack

    idle, used = ScaledStack(copy.deepcopy(small_stack[1])), ScaledStack(copy.deepcopy(small_stack[1]))
    blend, members = Blend([idle, used], ["idle", "used"], weights=[0.0, 1.0]).eval(), []
    for member in blend.members:
        member.register_forward_hook(lambda module, args, out: members.append(module))
    with torch.no_grad():
        torch.testing.assert_close(blend(raw), used(raw))
    assert members == [used, used]


@pytest.mark.parametrize("saved, expected", [("0.5", 0.5), ("[1.40E0]", 1.4), ("[8.008153E-1]", np.float32(0.8008153))])
def test_xgboost_base_score_formats(saved, expected):
    assert base_score({"learner_model_param": {"base_score": saved}}) == pytest.approx(float(expected), rel=1e-7)


def test_threshold_rounding_keeps_comparisons_exact():
    thresholds = np.array([0.1, 1 / 3, -2.5, 1e-8, 7.0])
    rounded = float32_at_most(thresholds)
    xs = np.concatenate([np.nextafter(rounded, np.float32(np.inf)), rounded, np.nextafter(rounded, np.float32(-np.inf))])
    for x in xs.astype(np.float32):
        assert ((x.astype(np.float64) <= thresholds) == (x <= rounded)).all()
    strict = np.array([0.5, -1.25, 3.3], dtype=np.float32)
    below = float32_below(strict)
    for x in np.concatenate([strict, below, np.nextafter(strict, np.float32(np.inf))]):
        assert ((x < strict) == (x <= below)).all()


@pytest.mark.parametrize("name", sorted(TREE_PARSERS))
def test_complete_tree_layout_equals_child_pointer_traversal(name, box_office):
    """Both tree kernels walk the same splits: their predictions are bit-identical, leaf gradients too."""
    n = box_office["n_train"]
    learner = make_learner(name, SMALL[name], seed=5).fit(box_office["X"][:n], box_office["y"][:n])
    arrays = TREE_PARSERS[name](learner)
    pointers, perfect = TreeEnsemble.from_arrays(arrays), PerfectTreeEnsemble.from_arrays(perfect_layout(arrays))
    x = torch.from_numpy(box_office["X"]).double()
    expected, actual = pointers(x), perfect(x)
    assert torch.equal(expected, actual)
    assert_parity(actual.detach(), learner.predict(box_office["X"]))
    actual.sum().backward()
    reached = perfect.leaf_values.grad.count_nonzero()
    assert reached > 0 and reached <= (arrays.left == np.arange(len(arrays.left))).sum()


def test_perfect_layout_pads_shallow_leaves_to_their_leftmost_slot():
    # root splits on feature 1 at 0.5; its left child is a leaf (value 1), its right child splits on feature 0 at 2.0
    arrays = concatenate_trees([{"feature": [1, 0, 0, 0, 0], "threshold": [0.5, 0, 2.0, 0, 0], "left": [1, -1, 3, -1, -1],
                                 "right": [2, -1, 4, -1, -1], "value": [0, 1.0, 0, 2.0, 3.0]}], depth=2)
    perfect = perfect_layout(arrays)
    assert perfect.leaf_values.tolist() == [[1.0, 0.0, 2.0, 3.0]]
    assert perfect.threshold[0, 1] == np.inf
    module = PerfectTreeEnsemble.from_arrays(perfect)
    out = module(torch.tensor([[0.0, 0.0], [3.0, 1.0], [1.0, 1.0], [0.0, 0.5]], dtype=torch.float64))
    assert out.tolist() == [1.0, 3.0, 2.0, 1.0]


def test_learners_read_their_declared_input_groups_natively_and_compiled(box_office):
    """A learner reads only its ``inputs`` groups (ids or sequences for some, features for trees); the
    compiled stack selects the same columns, layer 2 after the layer-1 predictions."""
    from pel_torch.compile import compile_stack
    from pel_torch.learners.stacking import StackedEnsemble
    from pel_torch.learners.trees import LightGBMLearner

    class DatesOnly(LightGBMLearner):
        inputs = ("dates",)

    X, y, n = box_office["X"], box_office["y"], box_office["n_train"]
    names = box_office["featurizer"].feature_names_
    dates = np.array([names.index(c) for c in ("year", "month", "weekday")])
    groups = {"features": np.setdiff1d(np.arange(X.shape[1]), dates), "dates": dates}
    layers = [[DatesOnly({"n_estimators": 20}, seed=1), make_learner("catboost", {"iterations": 20}, seed=1)] for _ in range(2)]
    ensemble = StackedEnsemble(layers, n_folds=3, seed=1, progress=False).fit(X[:n], y[:n], groups)
    first, second = ensemble.layers_
    np.testing.assert_array_equal(first[0].columns, dates)
    np.testing.assert_array_equal(second[0].columns, np.concatenate([[0, 1], 2 + dates]))   # predictions, then its group
    read = {int(f) for model in first[0].models_ for f in np.unique(TREE_PARSERS["lightgbm"](model).feature)}
    assert read <= set(range(len(dates)))   # its trees see only the three date columns
    featurizer = box_office["featurizer"]
    stack = compile_stack(ensemble, featurizer.mean_, featurizer.std_)
    with torch.no_grad():
        assert_parity(stack(torch.from_numpy(box_office["raw"])), ensemble.predict(X))
    with pytest.raises(Exception, match="reads input group\\(s\\) dates, which this task does not provide"):
        StackedEnsemble([[DatesOnly()]], n_folds=2, progress=False).fit(X[:50], y[:50], {"features": np.arange(X.shape[1])})
