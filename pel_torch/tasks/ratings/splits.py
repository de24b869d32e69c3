"""The ratings task's splits; every one carves its validation ratings out of training, never out of test.

- ``u1`` .. ``u5``: GroupLens's five folds of ML-100K (``mku.sh``): fold k's test set is the k-th
  fifth of the file in its original order (lines (k-1)*20,000+1 .. k*20,000 of ``u.data``), its
  base set the rest; validation is a seeded 10% of the base set. Comparable with the literature.
- ``user_temporal``: each user's last 20% of ratings by time are test, the 10% before them
  validation; ties in time break by file order. "What will this user think of the next film."
- ``global_temporal``: everything before a date trains; the last 10% of time before it validates;
  users first seen after it are the cold users, reported apart.
``folds`` (all five u-folds) is a report's protocol: a single training run takes one of them.

With a refit (``split.refit``), the validation ratings are known ones once the head is chosen on them:
the inputs learn from the training and validation ratings, and the members are fitted again on both.
"""

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pel_torch.errors import PelError

U_FOLDS = ("u1", "u2", "u3", "u4", "u5")
SPLITS = (*U_FOLDS, "user_temporal", "global_temporal")


@dataclass(frozen=True)
class RatingSplit:
    """Row positions into the ratings table. ``refit``: the training and validation ratings, where the members are
    fitted again under the head chosen on ``val`` (empty without a refit); ``refit_once``: the last layer fitted once
    on them instead of bagged (``StackedEnsemble.refit``)."""

    kind: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    refit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    refit_once: bool = False

    def __post_init__(self):
        parts = np.concatenate([self.train, self.val, self.test])
        if len(np.unique(parts)) != len(parts):
            raise AssertionError("a rating sits in two parts of the split; the split is leaking")

    @property
    def known(self) -> np.ndarray:
        """The ratings the inputs learn from (ids, histories, statistics): the training ones, and the validation ones too
        where the members are refitted on them."""
        return self.refit if len(self.refit) else self.train

    def describe(self) -> str:
        refit = " (members refitted on train + validation)" if len(self.refit) else ""
        return f"{self.kind} split: train {len(self.train):,}, validation {len(self.val):,}, test {len(self.test):,} ratings{refit}"


def make_split(ratings: pd.DataFrame, kind: str, *, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2,
               refit: str | bool = False) -> RatingSplit:
    """``refit``: bagged or once (``RatingSplit.refit_once``), or false."""
    split = _parts(ratings, kind, seed, val_fraction, test_fraction)
    if refit is False:
        return split
    return replace(split, refit=np.sort(np.concatenate([split.train, split.val])), refit_once=refit == "once")


def _parts(ratings: pd.DataFrame, kind: str, seed: int, val_fraction: float, test_fraction: float) -> RatingSplit:
    if kind == "folds":
        raise PelError("split=folds is the report's protocol (python evaluate.py task=ratings report=full); "
                       f"train on one fold: split=u1 .. u5")
    if kind not in SPLITS:
        raise PelError(f"unknown split '{kind}' for task ratings; choose one of: {', '.join(SPLITS)}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise PelError(f"split fractions val={val_fraction}, test={test_fraction} must be in (0, 1) and sum below 1")
    if kind in U_FOLDS:
        return _u_fold(ratings, U_FOLDS.index(kind), seed, val_fraction)
    times = ratings["timestamp"].to_numpy(dtype=np.float64)
    if np.isnan(times).all():
        raise PelError(f"split={kind} orders ratings by time, and this file has no timestamps; use split=u1 .. u5")
    if kind == "user_temporal":
        return _user_temporal(ratings, val_fraction, test_fraction)
    return _global_temporal(ratings, times, val_fraction, test_fraction)


def _u_fold(ratings: pd.DataFrame, fold: int, seed: int, val_fraction: float) -> RatingSplit:
    lines = ratings["line"].to_numpy()
    size = -(-(int(lines.max()) + 1) // len(U_FOLDS))  # 20,000 for the 100,000 lines of u.data
    in_test = (lines >= fold * size) & (lines < (fold + 1) * size)
    test, base = np.flatnonzero(in_test), np.flatnonzero(~in_test)
    shuffled = np.random.default_rng(seed).permutation(base)
    n_val = int(round(val_fraction * len(base)))
    return RatingSplit(f"u{fold + 1}", np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val]), test)


def _user_temporal(ratings: pd.DataFrame, val_fraction: float, test_fraction: float) -> RatingSplit:
    order = ratings.sort_values(["user", "timestamp", "line"], na_position="first").index.to_numpy()
    users = ratings["user"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts)                 # position within the user's ratings, by time
    n = np.repeat(counts, counts)
    n_test = np.round(test_fraction * n).astype(int)
    n_val = np.round(val_fraction * n).astype(int)
    part = np.where(rank >= n - n_test, 2, np.where(rank >= n - n_test - n_val, 1, 0))
    return RatingSplit("user_temporal", *(np.sort(order[part == k]) for k in range(3)))


def _global_temporal(ratings: pd.DataFrame, times: np.ndarray, val_fraction: float, test_fraction: float) -> RatingSplit:
    key = np.lexsort((ratings["line"].to_numpy(), np.nan_to_num(times, nan=-np.inf)))   # time, then file order
    n = len(key)
    n_test, n_val = int(round(test_fraction * n)), int(round(val_fraction * n))
    return RatingSplit("global_temporal", np.sort(key[:n - n_test - n_val]), np.sort(key[n - n_test - n_val:n - n_test]),
                       np.sort(key[n - n_test:]))
