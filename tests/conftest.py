from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from pel_torch.data import load_films

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# Tiny learners for stage tests: the contract under test is the plumbing, not accuracy.
TINY = ["stack.n_folds=2", "++stack.learners.catboost.iterations=20", "++stack.learners.random_forest.n_estimators=10",
        "++stack.learners.lightgbm.n_estimators=20", "++stack.learners.xgboost.n_estimators=20",
        "++stack.learners.neural_net.max_epochs=2", "finetune.max_epochs=2", "trainer.enable_progress_bar=false"]


def config(tmp, *overrides, name="train"):
    """The packaged Hydra config with tiny learners, writing under ``tmp``."""
    with initialize_config_module(config_module="pel_torch.configs", version_base="1.3"):
        return compose(name, overrides=[*TINY, f"checkpoints_dir={tmp}", f"logger.save_dir={tmp}/tb", *overrides])


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """One tiny pretraining (rating and votes_year stacks) shared by the stage tests."""
    from pel_torch.stages import pretrain

    tmp = tmp_path_factory.mktemp("run")
    return tmp, pretrain(config(tmp, "stage=pretrain"))


@pytest.fixture(scope="session")
def task():
    from pel_torch.tasks.box_office import BoxOfficeTask

    return BoxOfficeTask()


@pytest.fixture(scope="session")
def wikidata():
    frame, report = load_films("wikidata")
    return frame, report


@pytest.fixture
def films(wikidata):
    return wikidata[0].copy()


SMALL = {  # quick settings: the contract under test is parity, not accuracy
    "catboost": {"iterations": 60},
    "random_forest": {"n_estimators": 30},
    "extra_trees": {"n_estimators": 30},
    "lightgbm": {"n_estimators": 60},
    "xgboost": {"n_estimators": 60},
    "neural_net": {"max_epochs": 8, "hidden": (64, 32)},
    "linear": {},
    "mf": {"max_epochs": 3, "dim": 8},
    "svdpp": {"max_epochs": 3, "dim": 8},
    "neumf": {"max_epochs": 3, "dim": 8, "hidden": (16,)},
    "autorec": {"max_epochs": 3, "hidden": 8},
    "bpmf": {"sweeps": 4, "burn_in": 1, "dim": 4, "rank": 8},
    "lstm": {"max_epochs": 2, "dim": 8, "hidden": 8},
    "cnn": {"max_epochs": 2, "dim": 8, "hidden": 8},
    "window_lstm": {"max_epochs": 2, "hidden": (8, 4)},
    "nbeats": {"max_epochs": 2, "width": 8, "blocks": 2},
    "theta": {},
    "ets": {},
    "seasonal_naive": {},
}


@pytest.fixture(scope="session")
def id_rows():
    """Synthetic rows for learners that read ids and histories, or forecast windows:
    (X (n, 2 + 3k + lags + horizon + 4) float32, y, groups, sizes)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, users, items, k, lags, horizon = 800, 30, 40, 5, 6, 3
    user, item = rng.integers(1, users + 1, n), rng.integers(1, items + 1, n)
    history = np.column_stack([rng.integers(0, items + 1, (n, k)), rng.normal(size=(n, k)), rng.exponential(size=(n, k))])
    y = rng.normal(size=users + 1)[user] + rng.normal(size=items + 1)[item] + 0.3 * rng.normal(size=n)
    window, step = rng.normal(size=(n, lags)) + y[:, None], np.eye(horizon)[rng.integers(0, horizon, n)]
    forecasts = y[:, None] + rng.normal(size=(n, 3))   # what theta, seasonal naive and ets would have said
    day = 10_000 + rng.integers(0, 15, n)               # days since 1970, as the ratings task gives them
    X = np.column_stack([user, item, history, window, step, forecasts, day]).astype(np.float32)
    width = 2 + 3 * k
    groups = {"user": np.array([0]), "item": np.array([1]), "history": np.arange(2, width), "window": width + np.arange(lags),
              "step": width + lags + np.arange(horizon), "theta": np.array([width + lags + horizon]),
              "seasonal_naive": np.array([width + lags + horizon + 1]), "ets": np.array([width + lags + horizon + 2]), "day": np.array([width + lags + horizon + 3])}
    return X, y, groups, {"user": users + 1, "item": items + 1, "history": k, "lags": lags, "horizon": horizon}


def learner_rows(learner, box_office, id_rows):
    """What ``learner`` reads, fitted rows first: ``(X, y, sizes, n_train)``, real film features or synthetic ids."""
    import numpy as np

    if learner.inputs == ("features",):
        return box_office["X"], box_office["y"], None, box_office["n_train"]
    X, y, groups, sizes = id_rows
    return X[:, np.concatenate([groups[g] for g in learner.inputs])], y, sizes, 600


@pytest.fixture(scope="session")
def box_office(wikidata):
    """Real featurized rows: the temporal split's box-office films, raw and standardised."""
    import numpy as np

    from pel_torch.tasks.box_office.featurizer import FilmFeaturizer
    from pel_torch.tasks.box_office.splits import make_split
    from pel_torch.tasks.box_office.targets import target_values

    films = wikidata[0]
    split = make_split(films, "temporal")
    featurizer = FilmFeaturizer(lead_cast=None).fit(films.iloc[split.history])
    rows = np.concatenate([split.train, split.val, split.test])
    raw = featurizer.transform_raw(films.iloc[rows])
    y = target_values(films, "revenue")[rows]
    had_missing = films.iloc[rows][["runtime", "release_date", "writers", "companies", "cast"]].isna().any(axis=1).to_numpy()
    n_train = len(split.train)
    return {"featurizer": featurizer, "raw": raw, "X": featurizer.standardize(raw), "y": (y - y[:n_train].mean()) / y[:n_train].std(),
            "n_train": n_train, "had_missing": had_missing}


@pytest.fixture(scope="session")
def small_stack(box_office):
    """A fitted 2-layer, 5-fold stack of the paper's five learners (small settings) and its compiled module."""
    from pel_torch.compile import compile_stack
    from pel_torch.learners import PAPER_LAYER, make_learner
    from pel_torch.learners.stacking import StackedEnsemble

    n = box_office["n_train"]
    layers = [[make_learner(name, SMALL[name], seed=1) for name in PAPER_LAYER] for _ in range(2)]
    ensemble = StackedEnsemble(layers, n_folds=5, seed=1, progress=False).fit(box_office["X"][:n], box_office["y"][:n])
    featurizer = box_office["featurizer"]
    return ensemble, compile_stack(ensemble, featurizer.mean_, featurizer.std_)
