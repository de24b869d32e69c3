"""Entity ids and the entity-embedding network (benchmarks/entity_embeddings.py's model)."""

import numpy as np
import torch

from pel_torch.features.entity_slots import EMPTY, UNKNOWN, EntitySlots
from pel_torch.learners.entity_net import EntityNet, fit_network, non_embedding_parameters
from test_features import film, frame

HISTORY = frame(
    film("a", 2000, director="Ann", cast="X|Y|Z", revenue=1.0),
    film("b", 2001, director="Ann", cast="Y|X", revenue=2.0),
    film("c", 2002, director="Bob", cast="X", revenue=3.0),
)


def test_slots_keep_order_and_mark_empty_and_unknown():
    slots = EntitySlots({"director": 1, "cast": 3}, min_films=2).fit(HISTORY)
    assert slots.vocabulary_sizes == [3, 4]  # Ann; X, Y, plus the empty and unknown ids
    new = frame(film("n", 2003, director="Bob", cast="Y|Q"), film("m", 2003, director=None, cast="X|Y|Z|X"))
    ids = slots.transform(new)
    ann_x, x, y = slots.vocabularies_["director"]["Ann"], slots.vocabularies_["cast"]["X"], slots.vocabularies_["cast"]["Y"]
    assert ann_x == 2
    # Bob has one history film (< min_films): unknown; Q never seen: unknown; the third cast slot is empty.
    np.testing.assert_array_equal(ids[0], [UNKNOWN, y, UNKNOWN, EMPTY])
    # No director: empty; only the first three cast members count, Z (one film) is unknown.
    np.testing.assert_array_equal(ids[1], [EMPTY, x, y, UNKNOWN])
    assert [s for s in slots.field_slices()] == [slice(0, 1), slice(1, 4)]


def test_slots_state_round_trip():
    slots = EntitySlots({"director": 1, "cast": 2}, min_films=1).fit(HISTORY)
    again = EntitySlots.from_state(slots.state())
    np.testing.assert_array_equal(again.transform(HISTORY), slots.transform(HISTORY))


def test_empty_slots_contribute_nothing():
    net = EntityNet(2, [5], [slice(0, 3)], dim=4, n_outputs=1).eval()
    bag = net.embeddings[0](torch.tensor([[2, 3, EMPTY]]))
    np.testing.assert_allclose(bag.detach().numpy(), net.embeddings[0].weight[[2, 3]].mean(0, keepdim=True).detach().numpy(), rtol=1e-6)


def _task(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3)).astype(np.float32)
    slots = rng.integers(2, 12, size=(n, 2))
    effect = rng.normal(size=12)
    y = z[:, 0] + effect[slots].mean(axis=1)
    return z, slots, y


def test_fit_network_learns_entity_effects_and_ignores_unknown_targets():
    z, slots, y = _task()
    y_masked = np.column_stack([y, np.where(np.arange(len(y)) % 2 == 0, np.nan, -y)])  # second target half unknown
    net = EntityNet(3, [12], [slice(0, 2)], dim=4, hidden=(32,), n_outputs=2)
    train, holdout = np.arange(500), np.arange(500, 600)
    fit_network(net, z, slots, y_masked, train, holdout, seed=0, max_epochs=80, patience=10, learning_rate=3e-3)
    prediction = net.predict(z[holdout], slots[holdout])
    for j, target in enumerate((y, -y)):
        r2 = 1 - np.mean((prediction[:, j] - target[holdout]) ** 2) / np.var(target[holdout])
        assert r2 > 0.8, (j, r2)


def test_frozen_fine_tuning_leaves_embeddings_alone_and_is_seeded():
    z, slots, y = _task()
    net = EntityNet(3, [12], [slice(0, 2)], dim=4, hidden=(16,))
    before = net.embeddings[0].weight.detach().clone()
    fit_network(net, z, slots, y, np.arange(500), np.arange(500, 600), seed=1, max_epochs=3, parameters=non_embedding_parameters(net))
    torch.testing.assert_close(net.embeddings[0].weight, before)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        again = EntityNet(3, [12], [slice(0, 2)], dim=4, hidden=(16,))
        fit_network(again, z, slots, y, np.arange(500), np.arange(500, 600), seed=1, max_epochs=3)
        runs.append(again.predict(z, slots))
    np.testing.assert_array_equal(*runs)
