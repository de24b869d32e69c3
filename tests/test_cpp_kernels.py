"""The C++ traversal kernels are the torch kernels, faster: same leaves, same sums, same gradients."""

import copy

import numpy as np
import pytest
import torch

from conftest import SMALL
from pel_torch.compile import cpu_kernels, to_torch
from pel_torch.errors import PelError
from pel_torch.compile.kernels import CPP, TORCH
from pel_torch.inference import predict_batches, preferred_batch_size, select_kernels, set_kernel
from pel_torch.learners import make_learner

TREE_LEARNERS = ["catboost", "extra_trees", "lightgbm", "random_forest", "xgboost"]


@pytest.fixture(scope="module", params=TREE_LEARNERS)
def pair(request, box_office):
    n = box_office["n_train"]
    learner = make_learner(request.param, SMALL[request.param], seed=7).fit(box_office["X"][:n], box_office["y"][:n])
    module = to_torch(learner).double()
    return learner, module, set_kernel(copy.deepcopy(module), CPP)


@pytest.mark.parametrize("rows", [1, 67, None])  # one row, a ragged block, every row
def test_cpp_predictions_equal_torch_and_native(pair, box_office, rows):
    learner, module, fast = pair
    x = torch.from_numpy(box_office["X"][:rows]).double()
    with torch.inference_mode():
        expected, actual = module(x), fast(x)
    assert actual.shape == expected.shape
    if learner.name == "xgboost":
        assert torch.equal(actual, expected.to(actual.dtype))   # the same float32 running sum, bit for bit
    else:
        # a sequential float64 sum (the libraries' order) against torch's vectorised one
        torch.testing.assert_close(actual, expected.to(actual.dtype), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(actual.double().numpy(), learner.predict(box_office["X"][:rows]), rtol=1e-4, atol=1e-6)


def test_cpp_leaf_gradients_equal_torch(pair, box_office):
    _, module, fast = pair
    x = torch.from_numpy(box_office["X"][:300]).double()
    gradients = []
    for m in (copy.deepcopy(module), copy.deepcopy(fast)):
        m(x).square().sum().backward()
        gradients.append(m.leaf_values.grad)
    torch.testing.assert_close(gradients[1], gradients[0], rtol=1e-12, atol=1e-12)
    assert gradients[1].count_nonzero() > 0


def test_each_tree_stops_at_its_own_depth_and_reaches_the_padded_walks_leaf(pair, box_office):
    learner, _, fast = pair
    if not hasattr(fast, "tree_levels"):
        pytest.skip("oblivious trees have no padding")
    levels, kernels = fast.tree_levels(), cpu_kernels.tree_kernels()
    assert (levels >= 1).all()
    if learner.name == "lightgbm":     # leaf-wise trees of uneven depth: the shortcut is exercised
        assert (levels < fast.depth).any()
    x = torch.from_numpy(box_office["X"]).float().contiguous()
    every_level = torch.full_like(levels, fast.depth)
    assert torch.equal(kernels.perfect_tree_leaves(x, fast.nodes, fast.depth, levels),
                       kernels.perfect_tree_leaves(x, fast.nodes, fast.depth, every_level))
    with pytest.raises(RuntimeError, match="tree_levels must lie in 0 .. depth"):
        kernels.perfect_tree_leaves(x, fast.nodes, fast.depth, every_level + 1)


def test_cpp_kernels_refuse_inputs_narrower_than_the_trees_read(pair, box_office):
    _, _, fast = pair
    narrow = torch.from_numpy(box_office["X"][:5, :fast.n_inputs_read() - 1]).double()
    with pytest.raises(ValueError, match=f"splits on input column {fast.n_inputs_read() - 1}"):
        fast(narrow)


def test_stack_with_cpp_kernels_keeps_native_parity(small_stack, box_office):
    ensemble, stack = small_stack
    fast, kind = select_kernels(copy.deepcopy(stack), "cpp")
    assert kind == "cpp" and preferred_batch_size(fast) > preferred_batch_size(stack)
    native = ensemble.predict(box_office["X"])
    out = predict_batches(fast, box_office["raw"], batch_size=100)
    np.testing.assert_allclose(out, native, rtol=1e-4, atol=1e-6)
    # the same batches: the float32 network's matrix products may round differently at another batch size (~1e-9 here)
    np.testing.assert_allclose(out, predict_batches(stack, box_office["raw"], batch_size=100), rtol=1e-12, atol=1e-12)


def test_torch_kernels_switch_the_cpp_ones_off(small_stack):
    fast = set_kernel(copy.deepcopy(small_stack[1]), CPP)
    slow, kind = select_kernels(fast, "torch")
    kernels = {m.kernel for m in slow.modules() if hasattr(m, "kernel")}
    assert kind == "torch" and kernels == {TORCH}


def test_kernel_choice_errors_are_one_line(small_stack):
    with pytest.raises(PelError, match="choose one of auto, cpp, torch, compiled"):
        select_kernels(small_stack[1], "fast")
    with pytest.raises(PelError, match="CPU only"):
        select_kernels(small_stack[1], "cpp", device="cuda")


def test_unbuildable_kernels_fail_clearly_or_fall_back(small_stack, monkeypatch, caplog):
    def no_compiler(*args, **kwargs):
        raise RuntimeError("Error building extension 'pel_tree_kernels'\nlong compiler log")

    monkeypatch.setattr("torch.utils.cpp_extension.load", no_compiler)
    cpu_kernels.tree_kernels.cache_clear()
    try:
        with pytest.raises(PelError, match=r"could not build the C\+\+ tree kernels \(Error building extension 'pel_tree_kernels'\); install"):
            select_kernels(copy.deepcopy(small_stack[1]), "cpp")
        module, kind = select_kernels(copy.deepcopy(small_stack[1]), "auto")
        assert kind == "torch" and "scoring with the torch kernels" in caplog.text
    finally:
        cpu_kernels.tree_kernels.cache_clear()


def test_compiled_kernels_predict_what_the_torch_kernels_do(box_office):
    """``kernels=compiled``: ``torch.compile`` of each tree module, batches padded to one shape."""
    n = box_office["n_train"]
    learners = [make_learner(name, {**SMALL[name], **size}, seed=7).fit(box_office["X"][:n], box_office["y"][:n])
                for name, size in (("lightgbm", {"n_estimators": 10}), ("catboost", {"iterations": 10}))]
    for learner in learners:
        module = to_torch(learner).double()
        x = box_office["X"][:150].astype(np.float64)
        expected = predict_batches(copy.deepcopy(module), x, batch_size=64)
        compiled, kind = select_kernels(module, "compiled")
        assert kind == "compiled" and preferred_batch_size(compiled) == 8192
        np.testing.assert_allclose(predict_batches(compiled, x, batch_size=64, pad=True), expected, rtol=1e-12, atol=1e-12)

