"""The two baselines every rating model must beat: the training mean, and the mean plus user and film biases.

The biases are fitted by alternating regularised least squares on the training ratings alone:
b_film = sum(r - mu - b_user) / (reg_film + n_film), then b_user likewise, a few rounds (Koren's
baseline predictor). A user or film absent from training gets bias 0.
"""

import numpy as np
import pandas as pd


def global_mean(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    return np.full(len(test), train["rating"].mean())


def user_film_biases(train: pd.DataFrame, test: pd.DataFrame, *, reg_user: float = 15.0, reg_film: float = 10.0,
                     rounds: int = 10) -> np.ndarray:
    mu = train["rating"].mean()
    users, user_ids = pd.factorize(train["user"])
    films, film_ids = pd.factorize(train["item"])
    residual = train["rating"].to_numpy(dtype=np.float64) - mu
    b_user, b_film = np.zeros(len(user_ids)), np.zeros(len(film_ids))
    for _ in range(rounds):
        b_film = _shrunk_means(residual - b_user[users], films, len(film_ids), reg_film)
        b_user = _shrunk_means(residual - b_film[films], users, len(user_ids), reg_user)
    user_bias = pd.Series(b_user, index=user_ids).reindex(test["user"]).fillna(0.0).to_numpy()
    film_bias = pd.Series(b_film, index=film_ids).reindex(test["item"]).fillna(0.0).to_numpy()
    return mu + user_bias + film_bias


def _shrunk_means(values: np.ndarray, groups: np.ndarray, n_groups: int, reg: float) -> np.ndarray:
    return np.bincount(groups, values, n_groups) / (reg + np.bincount(groups, minlength=n_groups))
