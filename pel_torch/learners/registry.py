"""The explicit registry of learners, keyed by the names configs use."""

from pel_torch.learners.autorec import AutoRecLearner
from pel_torch.learners.base import Learner
from pel_torch.learners.bayesian_mf import BayesianMFLearner
from pel_torch.learners.forecasting import ETSLearner, SeasonalNaiveLearner, ThetaLearner, WindowLSTMLearner
from pel_torch.learners.linear import LinearLearner
from pel_torch.learners.matrix_factorization import MatrixFactorizationLearner
from pel_torch.learners.nbeats import NBeatsLearner
from pel_torch.learners.neumf import NeuMFLearner
from pel_torch.learners.sequence import ConvolutionLearner, SequenceLearner
from pel_torch.learners.svdpp import SVDppLearner
from pel_torch.learners.neural_net import NeuralNetLearner
from pel_torch.learners.trees import (CatBoostLearner, ExtraTreesLearner, LightGBMLearner, RandomForestLearner,
                                      XGBoostLearner)
from pel_torch.errors import PelError


def _registry(*classes: type[Learner]) -> dict[str, type[Learner]]:
    registry: dict[str, type[Learner]] = {}
    for cls in classes:
        if cls.name in registry:
            raise ValueError(f"duplicate learner name {cls.name!r}")
        registry[cls.name] = cls
    return registry


LEARNERS = _registry(CatBoostLearner, RandomForestLearner, LightGBMLearner, XGBoostLearner, NeuralNetLearner, ExtraTreesLearner,
                     LinearLearner, MatrixFactorizationLearner, SVDppLearner, NeuMFLearner, AutoRecLearner, BayesianMFLearner, SequenceLearner, ConvolutionLearner,
                     WindowLSTMLearner, NBeatsLearner, ThetaLearner, ETSLearner, SeasonalNaiveLearner)
PAPER_LAYER = ("catboost", "random_forest", "lightgbm", "xgboost", "neural_net")


def make_learner(name: str, params: dict | None = None, *, seed: int = 0, threads: int = 1) -> Learner:
    if name not in LEARNERS:
        raise PelError(f"unknown learner '{name}'; choose from: {', '.join(LEARNERS)}")
    return LEARNERS[name](params, seed=seed, threads=threads)
