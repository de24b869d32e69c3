"""Out-of-fold fine-tuning: the fold outputs are the bagged stack's, and no loss teaches a fold model its held-out rows."""

import copy

import numpy as np
import pytest
import torch

from pel_torch.learners.bagging import fold_indices, held_out_fold
from pel_torch.lit import PARAMETER_GROUPS, PELModule, out_of_fold_loss
from pel_torch.stack.forecaster import Forecaster
from pel_torch.stack.modules import out_of_fold


@pytest.fixture
def model(small_stack):
    return Forecaster(copy.deepcopy(small_stack[1]))


def _batch(box_office, n=96, seed=0):
    raw = torch.from_numpy(box_office["raw"][:n])
    y = torch.from_numpy(box_office["y"][:n])
    folds = torch.from_numpy(held_out_fold(n, 5, seed))
    return raw, y, folds


def test_held_out_fold_matches_the_fold_indices():
    fold = held_out_fold(23, 5, seed=3)
    for k, (train, held_out) in enumerate(fold_indices(23, 5, seed=3)):
        assert (fold[held_out] == k).all() and (fold[train] != k).all()


def test_fold_outputs_average_to_the_bagged_layer_and_feed_it_out_of_fold(model, box_office):
    raw, _, folds = _batch(box_office)
    stack = model.stack
    with torch.no_grad():
        layers = stack.fold_outputs(raw, folds)
        first = stack.layer_outputs(raw)[0]
        np.testing.assert_allclose(torch.stack([p.mean(dim=1) for p in layers[0]], dim=1).numpy(), first.numpy(), rtol=1e-12)
        # layer 2, computed by hand from each row's out-of-fold layer-1 prediction
        z = stack.standardize(raw)
        inputs = torch.cat([torch.stack([out_of_fold(p, folds) for p in layers[0]], dim=1), z], dim=1)
        for learner, predictions in zip(stack.layers[1].learners, layers[1]):
            expected = torch.stack([fold(inputs).double() for fold in learner.folds], dim=1)
            np.testing.assert_allclose(predictions.numpy(), expected.numpy(), rtol=1e-12)
    assert stack.n_folds() == 5


def test_no_fold_model_learns_from_its_held_out_rows(model, box_office):
    raw, y, folds = _batch(box_office)
    held_out = 2
    rows = folds == held_out
    module = PELModule(model, train=PARAMETER_GROUPS)  # sets requires_grad on every trained group
    head_loss, learner_loss = out_of_fold_loss(module.model, raw[rows], y[rows], folds[rows])
    (head_loss + learner_loss).backward()
    for layer in model.stack.layers:
        for learner in layer.learners:
            for k, fold in enumerate(learner.folds):
                moved = sum(float(p.grad.abs().sum()) for p in fold.parameters() if p.grad is not None)
                assert (moved == 0) if k == held_out else (moved > 0), (layer.names, k)
    assert model.stack.head.weights.grad.abs().sum() > 0 and model.output_scale.grad is not None


def test_out_of_fold_training_step_logs_the_head_loss(model, box_office):
    raw, y, folds = _batch(box_office)
    module = PELModule(model)
    module.log = lambda *args, **kwargs: None
    total = module.training_step((raw, y, folds), 0)
    head_loss, learner_loss = out_of_fold_loss(model, raw, y, folds)
    assert torch.isclose(total, head_loss + learner_loss)
