import numpy as np
import pytest
import torch

from pel_torch.errors import PelError
from pel_torch.learners import LEARNERS, make_learner
from pel_torch.learners.bagging import BaggedLearner, fold_indices
from pel_torch.learners.base import Learner
from pel_torch.learners.early_stopping import holdout_split
from pel_torch.learners.registry import _registry
from pel_torch.learners.selection import ensemble_selection


class MeanLearner(Learner):
    name = "mean"

    def _fit(self, X, y):
        self.model_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.model_)


def test_out_of_fold_predictions_never_see_their_row():
    y = np.arange(20, dtype=float)
    X = np.zeros((20, 1), dtype=np.float32)
    folds = fold_indices(20, 4, seed=0)
    bagged = BaggedLearner(MeanLearner(), folds).fit(X, y)
    for train, held_out in folds:
        np.testing.assert_allclose(bagged.oof_[held_out], y[train].mean())
    assert len(bagged.models_) == 4
    np.testing.assert_allclose(bagged.predict(X[:2]), np.mean([y[t].mean() for t, _ in folds]))


def test_ensemble_selection_prefers_the_better_model_and_mixes_complements():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    good, bad = y + 0.1 * rng.normal(size=500), rng.normal(size=500)
    weights = ensemble_selection(np.column_stack([bad, good]), y, rounds=25)
    assert weights.sum() == pytest.approx(1) and weights[1] == 1.0
    noise = rng.normal(size=500)
    over, under = y + noise, y - noise
    weights = ensemble_selection(np.column_stack([over, under]), y, rounds=20)
    assert weights == pytest.approx([0.5, 0.5])


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="duplicate learner name 'mean'"):
        _registry(MeanLearner, MeanLearner)
    with pytest.raises(PelError, match="unknown learner 'svm'"):
        make_learner("svm")
    assert set(LEARNERS) == {"catboost", "random_forest", "lightgbm", "xgboost", "neural_net", "extra_trees", "linear", "mf", "svdpp", "neumf", "autorec", "bpmf", "lstm", "cnn",
                              "window_lstm", "nbeats", "theta", "ets", "seasonal_naive"}


@pytest.mark.parametrize("name, params, message", [
    ("neural_net", {"hiden": (8,)}, "neural_net: unknown parameter"),
    ("random_forest", {"n_trees": 5}, "random_forest: bad parameter"),
])
def test_bad_learner_parameters_are_named(name, params, message):
    X, y = np.zeros((20, 2), dtype=np.float32), np.arange(20, dtype=float)
    with pytest.raises(PelError, match=message):
        make_learner(name, params).fit(X, y)


@pytest.mark.parametrize("n_rows, n_folds, message", [(10, 1, "at least 2 folds"), (3, 5, "only 3 training rows")])
def test_bad_fold_settings(n_rows, n_folds, message):
    with pytest.raises(PelError, match=message):
        fold_indices(n_rows, n_folds, seed=0)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_same_seed_same_predictions(name, box_office, id_rows):
    from conftest import SMALL, learner_rows

    X, y, sizes, _ = learner_rows(make_learner(name), box_office, id_rows)
    X, y = X[:300], y[:300]
    first = make_learner(name, SMALL[name], seed=5).fit(X, y, sizes).predict(X)
    second = make_learner(name, SMALL[name], seed=5).fit(X, y, sizes).predict(X)
    np.testing.assert_array_equal(first, second)


def test_the_head_chosen_on_later_rows_prefers_the_learner_that_extrapolates():
    """Out of fold (a shuffled sample of the training range) the forest fits the wiggle best; on rows
    beyond the training range only the linear model follows the trend."""
    from pel_torch.learners.stacking import StackedEnsemble

    rng = np.random.default_rng(0)
    x_train, x_later = rng.uniform(0, 1, (400, 1)), rng.uniform(1.5, 2, (200, 1))

    def target(x):
        return 3 * x[:, 0] + np.sin(12 * x[:, 0]) + 0.1 * rng.normal(size=len(x))

    layer = [make_learner("random_forest", {"n_estimators": 30}, seed=0), make_learner("linear")]
    ensemble = StackedEnsemble([layer], n_folds=3, seed=0, progress=False).fit(x_train.astype(np.float32), target(x_train))
    assert ensemble.weights_[0] > 0.5                     # out of fold, the forest leads
    later = x_later.astype(np.float32)
    ensemble.select_on(later, target(x_later))
    assert ensemble.weights_[1] > 0.9                     # on later rows, the linear model does
    np.testing.assert_allclose(ensemble.predict(later), ensemble.predict_layers(later)[-1] @ ensemble.weights_)


@pytest.mark.parametrize("once", [False, True])
def test_a_refit_keeps_the_head_and_bags_every_layer_or_fits_the_last_once_on_every_row(once):
    from pel_torch.learners.stacking import StackedEnsemble

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)).astype(np.float32), rng.normal(size=60)
    ensemble = StackedEnsemble([[MeanLearner(), make_learner("linear")], [MeanLearner(), make_learner("linear")]],
                               n_folds=3, seed=0, progress=False).fit(X[:30], y[:30]).select_on(X[30:45], y[30:45])
    weights = ensemble.weights_.copy()
    ensemble.refit(X, y, once=once)
    np.testing.assert_array_equal(ensemble.weights_, weights)
    assert [[len(b.models_) for b in layer] for layer in ensemble.layers_] == [[3, 3], [1, 1] if once else [3, 3]]
    # the inner layer's out-of-fold predictions still never see their row; the last layer's mean is of every row
    for train, held_out in ensemble.layers_[0][0].folds:
        np.testing.assert_allclose(ensemble.layers_[0][0].oof_[held_out], y[train].mean())
    last_mean = y.mean() if once else np.mean([y[train].mean() for train, _ in ensemble.layers_[1][0].folds])
    np.testing.assert_allclose(ensemble.predict_layers(X[:2])[-1][:, 0], last_mean)
    assert ensemble.oof_ is None


def test_a_last_layer_fitted_once_has_one_model_per_learner_and_its_head_chosen_on_held_out_rows():
    import torch

    from pel_torch.compile.convert import compile_stack
    from pel_torch.errors import PelError
    from pel_torch.learners.stacking import StackedEnsemble

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)).astype(np.float32), rng.normal(size=60)
    ensemble = StackedEnsemble([[MeanLearner(), make_learner("linear")], [MeanLearner(), make_learner("linear")]],
                               n_folds=3, seed=0, progress=False, last_layer="once").fit(X[:45], y[:45])
    assert [[len(b.models_) for b in layer] for layer in ensemble.layers_] == [[3, 3], [1, 1]]
    for train, held_out in ensemble.layers_[0][0].folds:   # the inner layer is still out of fold
        np.testing.assert_allclose(ensemble.layers_[0][0].oof_[held_out], y[:45][train].mean())
    np.testing.assert_allclose(ensemble.predict_layers(X[:2])[-1][:, 0], y[:45].mean())
    with pytest.raises(PelError, match="stack.last_layer=once: the head is chosen on held-out rows"):
        ensemble.predict(X[:2])
    ensemble.select_on(X[45:], y[45:])
    assert ensemble.oof_ is None and ensemble.predict(X[:2]).shape == (2,)
    ensemble.refit(X, y)   # a stack fitted once is refitted once
    assert [[len(b.models_) for b in layer] for layer in ensemble.layers_] == [[3, 3], [1, 1]]
    with pytest.raises(PelError, match="stack.last_layer=twice: give bagged or once"):
        StackedEnsemble([[MeanLearner()]], last_layer="twice")
    # compiled: one module in the last layer's bag, the same predictions as the native stack
    linear = StackedEnsemble([[make_learner("linear")], [make_learner("linear")]], n_folds=3, seed=0, progress=False,
                             last_layer="once").fit(X[:45], y[:45]).select_on(X[45:], y[45:])
    module = compile_stack(linear, np.zeros(2), np.ones(2)).double().eval()
    assert len(module.layers[-1].learners[0].folds) == 1
    np.testing.assert_allclose(module(torch.from_numpy(X.astype(np.float64))).detach().numpy(), linear.predict(X), rtol=1e-5, atol=1e-6)


def test_a_grouped_head_weighs_each_group_on_its_own_rows():
    import torch

    from pel_torch.learners.selection import grouped_selection
    from pel_torch.stack.modules import EnsembleSelection

    rng = np.random.default_rng(0)
    group, y = rng.integers(0, 3, 900), rng.normal(size=900)
    near = y + np.where(group == 0, 0.05, 1.0) * rng.normal(size=900)   # good on group 0 only
    far = y + np.where(group == 0, 1.0, 0.05) * rng.normal(size=900)    # good elsewhere
    predictions = np.column_stack([near, far])
    weights = grouped_selection(predictions, y, group, 4, rounds=25)
    assert weights[0, 0] > 0.9 and weights[1, 1] > 0.9 and weights[2, 1] > 0.9
    np.testing.assert_allclose(weights[3], ensemble_selection(predictions, y, 25))   # a group without rows: the shared weights
    head = EnsembleSelection(2, group_columns=[1, 2, 3, 4])    # the one-hot sits in columns 1..4 of the raw input
    head.weights.data.copy_(torch.from_numpy(weights))
    raw = np.column_stack([rng.normal(size=900), np.eye(4)[group]])
    out = head(torch.from_numpy(predictions), torch.from_numpy(raw)).detach().numpy()
    np.testing.assert_allclose(out, (predictions * weights[group]).sum(axis=1))
    assert head.mean_weights().shape == (2,)


def test_a_head_group_the_task_lacks_is_named():
    from pel_torch.learners.stacking import StackedEnsemble

    X, y = np.zeros((20, 2), dtype=np.float32), np.arange(20, dtype=float)
    ensemble = StackedEnsemble([[MeanLearner()]], n_folds=2, progress=False, head_groups="step")
    with pytest.raises(PelError, match="stack.head_groups=step: this task has no input group of that name \\(it has: features\\)"):
        ensemble.fit(X, y, {"features": np.arange(2)})


def test_the_last_layer_setting_comes_from_the_config_and_pretraining_overrides_it(tmp_path):
    from omegaconf import open_dict

    from conftest import config
    from pel_torch.pipeline import build_stack

    cfg = config(tmp_path, "task=ratings", "stack.last_layer=once")
    assert build_stack(cfg, progress=False).last_layer == "once"
    assert build_stack(cfg, progress=False, last_layer="bagged").last_layer == "bagged"   # what stage=pretrain asks for
    with open_dict(cfg):
        del cfg.stack["last_layer"]   # a config saved before the key existed
    assert build_stack(cfg, progress=False).last_layer == "bagged"


def test_the_holdout_of_rows_with_times_is_the_latest_and_every_training_target_is_earlier():
    times = np.repeat(np.arange(20.0), 5)[np.random.default_rng(0).permutation(100)]
    train, holdout = holdout_split(100, 0.1, torch.Generator().manual_seed(0), times)
    assert sorted(np.concatenate([train, holdout]).tolist()) == list(range(100))
    assert len(holdout) == 10 and times[train].max() < times[holdout].min() == 18
    ties = np.repeat(np.arange(4.0), 25)   # a tenth falls inside the last time: all its rows are held out
    assert len(holdout_split(100, 0.1, torch.Generator().manual_seed(0), ties)[1]) == 25
    # one time for every row: nothing is later than anything, so a seeded random tenth as without times
    same = holdout_split(100, 0.1, torch.Generator().manual_seed(0), np.zeros(100))
    assert len(same[1]) == 10 and same[1].tolist() == holdout_split(100, 0.1, torch.Generator().manual_seed(0))[1].tolist()
    network = make_learner("neural_net", {"max_epochs": 2}).fit(np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32),
                                                                   np.arange(100.0), times=times)
    assert network.times_ is None   # read by the fit alone


def _svdpp(seed):
    from pel_torch.learners.svdpp import SVDpp

    torch.manual_seed(seed)
    module = SVDpp(n_users=4, n_items=5, dim=3, n_rated=6)
    module.set_rated(np.array([1, 1, 2, 3, 3, 3]), np.array([1, 2, 2, 1, 3, 4]))
    return module, module.implicit.weight


def _autorec(seed):
    from pel_torch.learners.autorec import ItemAutoRec

    torch.manual_seed(seed)
    module = ItemAutoRec(n_users=4, n_items=5, hidden=3, n_rated=6)
    module.set_ratings(np.array([1, 1, 2, 3, 3, 3]), np.array([1, 2, 2, 1, 3, 4]), np.array([1.0, 2, 3, 4, 5, 1]))
    return module, module.encoder.weight


@pytest.mark.parametrize("fitted", [_svdpp, _autorec], ids=["svdpp", "autorec"])
def test_what_a_module_derives_from_its_weights_is_kept_while_predicting_and_recomputed_when_a_weight_changes(fitted):
    (module, weight), (other, _) = fitted(0), fitted(1)
    x = torch.tensor([[0.0, 1, 2], [0.0, 3, 4], [0.0, 2, 1]], dtype=torch.float64)
    with torch.no_grad():
        kept = module(x)
        assert torch.equal(module(x), kept) and module._kept is not None
    assert torch.equal(module(x).detach(), kept)           # with gradients it is computed afresh: the same values
    with torch.no_grad():
        weight.add_(0.5)                                    # what an optimiser step does
        moved = module(x)
    assert not torch.equal(moved, kept) and torch.equal(moved, module(x).detach())
    module.load_state_dict(other.state_dict())
    with torch.inference_mode():
        assert torch.equal(module(x), other(x))


@pytest.mark.parametrize("fitted", [_svdpp, _autorec], ids=["svdpp", "autorec"])
def test_fitting_sums_only_the_batchs_bags_with_the_values_and_gradients_of_summing_every_bag(fitted, monkeypatch):
    from pel_torch.learners import autorec, svdpp

    module, weight = fitted(0)
    x = torch.tensor([[0.0, 1, 2], [0.0, 3, 4], [0.0, 3, 1], [0.0, 0, 0]], dtype=torch.float64)   # a repeat and an unknown

    def output_and_gradient():
        weight.grad = None
        out = module(x)
        (out * torch.arange(1.0, 5.0)).sum().backward()
        return out.detach(), weight.grad.clone()

    batch = output_and_gradient()
    for learner_module in (autorec, svdpp):    # every bag summed, as compiling and exporting do
        monkeypatch.setattr(learner_module, "fitting_a_batch", lambda: False)
    module._kept = None
    whole = output_and_gradient()
    torch.testing.assert_close(batch[0], whole[0])
    torch.testing.assert_close(batch[1], whole[1])
    assert batch[1].abs().sum() > 0


def test_autorec_codes_each_film_from_its_ratings_and_knows_no_one_it_was_not_fitted_on():
    from pel_torch.learners.bags import bag_members

    module, _ = _autorec(0)
    codes = module.item_codes().detach()
    by_hand = torch.sigmoid(1.0 * module.encoder.weight[1] + 4.0 * module.encoder.weight[3] + module.encoder_bias)   # film 1
    torch.testing.assert_close(codes[1], by_hand.detach())
    torch.testing.assert_close(codes[0], torch.sigmoid(module.encoder_bias).detach())    # the unknown film: no ratings
    with torch.no_grad():
        module.bias.fill_(0.7)
        unknown_user = module(torch.tensor([[0.0, 0, 2], [0.0, 9, 2]]))                     # 0, and past the table
    np.testing.assert_allclose(unknown_user.numpy(), 0.7)
    positions, bag = bag_members(module.rated_offsets, torch.tensor([3, 1]))
    assert module.rated_users[positions].tolist() == [3, 1, 3] and bag.tolist() == [0, 1, 1]


def test_autorec_reads_ratings_as_steps_above_an_unrated_zero():
    from pel_torch.learners.autorec import rating_levels

    stars = np.array([1.0, 2, 3, 4, 5, 3])
    np.testing.assert_allclose(rating_levels((stars - 3.53) / 1.126), stars)
    half_stars = np.array([0.5, 1.0, 4.5, 5.0])
    np.testing.assert_allclose(rating_levels((half_stars - 3.0) / 1.1), [1, 2, 9, 10])
    assert rating_levels(np.linspace(0, 1, 1000)).max() == pytest.approx(51)   # no finer than a fiftieth of the range
    np.testing.assert_array_equal(rating_levels(np.full(3, 0.2)), 1.0)


def test_autorec_trains_without_the_ratings_it_stops_on_and_keeps_every_fitted_one(id_rows, monkeypatch):
    from conftest import SMALL
    from pel_torch.learners import autorec, early_stopping

    X, y, groups, sizes = id_rows
    X = X[:, np.concatenate([groups["user"], groups["item"]])]
    seen = []

    def recording(module, *args, **kwargs):
        seen.append(len(module.rated_users))   # a held-out rating the codes read is one the network could copy
        return early_stopping.train_early_stopped(module, *args, **kwargs)

    monkeypatch.setattr(autorec, "train_early_stopped", recording)
    learner = make_learner("autorec", SMALL["autorec"], seed=0).fit(X[:600], y[:600], sizes)
    assert seen == [540] and len(learner.model_.rated_users) == 600 and learner.model_.spec()["n_rated"] == 600


def test_fits_in_two_worker_processes_make_the_same_stack_as_one(id_rows):
    from conftest import SMALL
    from pel_torch.learners.stacking import StackedEnsemble

    X, y, groups, sizes = id_rows
    groups = {**groups, "features": groups["window"]}

    def fitted(jobs):
        layers = [[make_learner(name, SMALL[name], seed=0) for name in ("mf", "lightgbm")], [make_learner("linear")]]
        return StackedEnsemble(layers, n_folds=3, seed=0, progress=False, jobs=jobs).fit(X[:600], y[:600], groups, sizes)

    serial, parallel = fitted(1), fitted(2)
    for one, two in zip(serial.layers_[0], parallel.layers_[0]):
        np.testing.assert_array_equal(one.oof_, two.oof_)
    np.testing.assert_array_equal(serial.predict(X[600:]), parallel.predict(X[600:]))
    with pytest.raises(PelError, match="jobs=0"):
        StackedEnsemble(layers=[[MeanLearner()]], jobs=0)


def test_leading_factors_are_the_product_factored_exactly_or_its_best_low_rank_approximation():
    from pel_torch.learners.bayesian_mf import leading_factors

    rng = np.random.default_rng(0)
    left, right = torch.from_numpy(rng.normal(size=(12, 6))), torch.from_numpy(rng.normal(size=(9, 6)))
    product = left @ right.T
    a, b = leading_factors(left, right, rank=100)
    torch.testing.assert_close(a @ b.T, product)
    a, b = leading_factors(left, right, rank=2)
    u, singular, vh = torch.linalg.svd(product)
    torch.testing.assert_close(a @ b.T, (u[:, :2] * singular[:2]) @ vh[:2])
    assert a.shape == (12, 2) and b.shape == (9, 2)


def test_bayesian_mf_recovers_held_out_ratings_of_a_low_rank_matrix_and_knows_no_one_it_never_saw():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 50
    user, item = rng.integers(1, n_users, 1500), rng.integers(1, n_items, 1500)    # the last user and film are never rated
    truth = rng.normal(size=(n_users + 1, 2)) @ rng.normal(size=(n_items + 1, 2)).T
    y = truth[user, item] + 0.1 * rng.normal(size=1500)
    X = np.column_stack([np.full(1500, -1), user, item]).astype(np.float32)     # undated: no day biases
    learner = make_learner("bpmf", {"dim": 4, "sweeps": 60, "burn_in": 10, "rank": 8}, seed=0).fit(X[:1200], y[:1200],
                                                                                                    {"user": n_users + 1, "item": n_items + 1})
    assert len(learner.model_.day_keys) == 0
    error = learner.predict(X[1200:]) - y[1200:]
    assert np.sqrt(np.mean(error ** 2)) < 0.35 * np.std(y[1200:])
    never = learner.predict(np.array([[-1, n_users, 1], [-1, 1, n_items], [-1, 0, 0]], dtype=np.float32))
    np.testing.assert_allclose(never, np.mean(y[:1200]), rtol=1e-6)
    with pytest.raises(PelError, match="burn_in"):
        make_learner("bpmf", {"sweeps": 5, "burn_in": 5}).fit(X, y, {"user": n_users + 1, "item": n_items + 1})


def test_bayesian_mf_learns_each_users_day_and_adds_nothing_on_a_day_it_never_saw():
    """Ratings of one user on one day share an offset: held-out ratings on the fitted days are predicted better with
    their days than without, and a day without fitted ratings of that user predicts as if undated."""
    rng = np.random.default_rng(1)
    n_users, n_items, n = 30, 40, 3000
    user, item, day = rng.integers(1, n_users + 1, n), rng.integers(1, n_items + 1, n), 10_000 + rng.integers(0, 4, n)
    mood = rng.normal(scale=0.8, size=(n_users + 1, 4))
    y = rng.normal(size=n_users + 1)[user] + rng.normal(size=n_items + 1)[item] + mood[user, day - 10_000] + 0.2 * rng.normal(size=n)
    sizes, settings = {"user": n_users + 1, "item": n_items + 1}, {"dim": 3, "sweeps": 40, "burn_in": 10, "rank": 8}

    def held_out_rmse(days):
        X = np.column_stack([days, user, item]).astype(np.float32)
        learner = make_learner("bpmf", settings, seed=0).fit(X[:2500], y[:2500], sizes)
        return np.sqrt(np.mean((learner.predict(X[2500:]) - y[2500:]) ** 2)), learner, X

    dated, learner, X = held_out_rmse(day)
    undated, _, _ = held_out_rmse(np.full(n, -1))
    assert dated < 0.6 * undated
    assert len(learner.model_.day_keys) == len(set(zip(user[:2500], day[:2500])))
    other_day, no_day = X[2500:].copy(), X[2500:].copy()
    other_day[:, 0], no_day[:, 0] = 20_000, -1
    np.testing.assert_array_equal(learner.predict(other_day), learner.predict(no_day))


def test_implicit_features_are_each_users_rated_films_over_the_root_of_their_count_among_the_most_rated():
    from scipy import sparse

    from pel_torch.learners.bpmf_sampler import implicit_features

    rated = sparse.csr_matrix(np.array([[1, 1, 0, 1], [0, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=float))
    np.testing.assert_allclose(implicit_features(rated, 10).toarray(), rated.toarray() / np.sqrt([3, 2, 1, 1])[:, None])
    # the two most rated films (columns 3 and 1), in their order; the row's scale still counts every film it rated
    np.testing.assert_allclose(implicit_features(rated, 2).toarray(), rated.toarray()[:, [1, 3]] / np.sqrt([3, 2, 1, 1])[:, None])


def test_the_link_is_drawn_from_its_matrix_normal_conditional():
    """Monte Carlo moments of the implicit link's draw against the closed form: mean ``(X^T X + lam I)^-1 X^T (U - mu)``,
    covariance ``(X^T X + lam I)^-1`` between rows times ``precision^-1`` between columns."""
    from pel_torch.learners.bpmf_sampler import GibbsSampler

    rng = np.random.default_rng(0)
    users, items = torch.tensor([1, 1, 2, 3, 3, 3]), torch.tensor([1, 2, 2, 1, 2, 3])
    sampler = GibbsSampler(users, items, np.full(6, -1), rng.normal(size=6), (4, 4), 2, 2.0, 10, rng)
    prior_mean, precision = torch.tensor([0.3, -0.2], dtype=torch.float64), torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    X = sampler.rated_features[0].toarray()
    A = X.T @ X + 0.7 * np.eye(X.shape[1])
    expected = np.linalg.solve(A, X.T @ (sampler.factors[0] - prior_mean)[sampler.rated[0]].numpy())
    draws = []
    for _ in range(20000):
        sampler.link_precision[0] = 0.7
        sampler._draw_link(0, prior_mean, precision)
        draws.append(sampler.links[0].numpy().ravel())
    draws = np.array(draws)
    np.testing.assert_allclose(draws.mean(0), expected.ravel(), atol=0.03)
    np.testing.assert_allclose(np.cov(draws.T), np.kron(np.linalg.inv(A), np.linalg.inv(precision.numpy())), atol=0.03)
