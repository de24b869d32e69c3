"""Top-N recommendations: each user's best-scored films among those they have not rated, and how good they are.

Candidates are the films of the training ratings (no model knows another), minus those the user
already rated. Every (user, candidate) pair is scored as of the user's latest known rating, with
the same inputs a rating to predict gets, by any checkpoint of the task: a rating model ranks by
predicted stars, the implicit-feedback pretraining stack by how likely the user is to rate the film.

Measured on a split's test ratings (``ranking_metrics``): a user's relevant films are those they
rated ``>= relevant_from`` there, and only users with one count; precision@k is the share of the k
recommended films that are relevant, NDCG@k discounts a hit by log2 of its rank (binary gains).
"""

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pel_torch.atomic import atomic_output, check_new_output
from pel_torch.errors import DataError
from pel_torch.inference import predict_batches
from pel_torch.tasks.base import Prepared
from pel_torch.tasks.ratings.inputs import LINE_BITS, RatingInputs

PAIRS_PER_BLOCK = 200_000   # rows of inputs built at once: ~200 MB of float64 on ML-100K's ~110 columns
LAST_LINE = (1 << LINE_BITS) - 1   # a pair scored "at" a second comes after every rating of that second
POPULARITY = "popularity"


class Candidates:
    """Users x films to rank: ``films`` (the training films, in the inputs' order), ``seen`` (users x films, bool)
    and ``at`` (per user, the Unix time the ranking is made)."""

    def __init__(self, inputs: RatingInputs, users: np.ndarray, seen_rows: pd.DataFrame):
        self.inputs, self.users = inputs, np.asarray(users, dtype=object)
        self.films = np.array(list(inputs.items_), dtype=object)
        user_index = pd.Series(np.arange(len(self.users)), index=self.users)
        film_index = pd.Series(np.arange(len(self.films)), index=self.films)
        rows = seen_rows[seen_rows["user"].isin(user_index.index) & seen_rows["item"].isin(film_index.index)]
        self.seen = np.zeros((len(self.users), len(self.films)), dtype=bool)
        self.seen[user_index[rows["user"]].to_numpy(), film_index[rows["item"]].to_numpy()] = True
        latest = seen_rows.groupby("user")["timestamp"].max().reindex(self.users).to_numpy(dtype=np.float64)
        self.at = np.where(np.isfinite(latest), latest, inputs.latest_time_)   # never rated anything: as of the end of training

    def blocks(self, progress: str | None = None):
        """``(user positions, raw inputs of every (user, film) pair, row-major)`` per block of users."""
        per_block = max(1, PAIRS_PER_BLOCK // max(len(self.films), 1))
        starts = range(0, len(self.users), per_block)
        for start in tqdm(starts, desc=progress, unit="block", disable=progress is None):
            users = np.arange(start, min(start + per_block, len(self.users)))
            pairs = pd.DataFrame({"user": np.repeat(self.users[users], len(self.films)), "item": np.tile(self.films, len(users)),
                                  "timestamp": np.repeat(self.at[users], len(self.films)), "line": LAST_LINE})
            yield users, self.inputs.transform(pairs)

    def popularity(self, train: pd.DataFrame) -> np.ndarray:
        """``(films,)``: how many training ratings each film has, the baseline's score for every user."""
        return train["item"].value_counts().reindex(self.films, fill_value=0).to_numpy(dtype=np.float64)


def rank(candidates: Candidates, models: dict, k: int, popularity: np.ndarray | None = None,
         progress: str | None = None, device: str = "cpu") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per model (name -> a module scoring raw inputs): ``(film positions, scores)``, each ``(users, k)``,
    best first, seen films excluded. ``popularity``: also rank by it, as ``"popularity"``."""
    n_users, n_films = candidates.seen.shape
    out = {name: (np.zeros((n_users, k), dtype=np.int64), np.zeros((n_users, k))) for name in models}
    for users, raw in candidates.blocks(progress):
        for name, model in models.items():
            scores = predict_batches(model, raw, device=device).reshape(len(users), n_films)
            out[name][0][users], out[name][1][users] = best(scores, candidates.seen[users], k)
    if popularity is not None:
        out[POPULARITY] = best(np.broadcast_to(popularity, (n_users, n_films)), candidates.seen, k)
    return out


def best(scores: np.ndarray, seen: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest unseen scores per row, best first (fewer unseen films: the rest at -inf)."""
    scores = np.where(seen, -np.inf, scores)
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(scores, top, axis=1)


def ranking_metrics(recommended: np.ndarray, relevant: list[set], k: int) -> dict[str, float]:
    """``recommended``: ``(users, >= k)`` film positions; ``relevant``: per user, the relevant film positions.
    Users with nothing relevant are left out. precision@k, NDCG@k and how many users counted."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, ndcg = [], []
    for films, wanted in zip(recommended[:, :k], relevant):
        if not wanted:
            continue
        hits = np.array([film in wanted for film in films], dtype=np.float64)
        precision.append(hits.sum() / k)
        ndcg.append((hits * discounts).sum() / discounts[:min(len(wanted), k)].sum())
    return {f"precision@{k}": float(np.mean(precision)) if precision else float("nan"),
            f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else float("nan"), "users": float(len(precision))}


def relevant_films(candidates: Candidates, test: pd.DataFrame, relevant_from: float) -> list[set]:
    """Per user of ``candidates``, the positions of the films they rated ``>= relevant_from`` in ``test``
    (films no training rating showed cannot be recommended, and count as misses through ``k``)."""
    film_index = {film: j for j, film in enumerate(candidates.films)}
    liked = test[test["rating"] >= relevant_from]
    # a film no model knows keeps a distinct position below 0: still relevant, never recommended
    wanted = liked.groupby("user")["item"].agg(lambda films: {film_index.get(f, -1 - i) for i, f in enumerate(films)})
    return [wanted.get(user, set()) for user in candidates.users]


def evaluate_ranking(prepared: Prepared, models: dict, k: int, relevant_from: float, device: str = "cpu") -> dict[str, dict[str, float]]:
    """Per model, and for ranking by popularity: precision@k and NDCG@k on the split's test ratings.

    Each user with a relevant test rating is ranked once, as of their latest training or validation
    rating, among the training films they rated in neither; the test ratings are never read as inputs."""
    split, table = prepared.split, prepared.table
    test = table.iloc[split.test]
    users = test.loc[test["rating"] >= relevant_from, "user"].unique()
    candidates = Candidates(prepared.inputs, users, table.iloc[np.concatenate([split.train, split.val])])
    ranked = rank(candidates, models, k, candidates.popularity(table.iloc[split.known]), progress="ranking films for test users",
                  device=device)
    relevant = relevant_films(candidates, test, relevant_from)
    return {name: ranking_metrics(films, relevant, k) for name, (films, _) in ranked.items()}


def write_recommendations(prepared: Prepared, model, k: int, path, *, titles: pd.Series | None = None, decode=None,
                          overwrite: bool = False, device: str = "cpu") -> tuple[int, int]:
    """Each user of the training ratings: their ``k`` best-scored films among those they never rated in the
    whole table, as CSV ``user, rank, item[, title], predicted_rating`` (``decode``: standardised -> stars)
    or ``score`` (a model of another target). Returns (users, rows written)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise DataError(f"{path}: recommendations are written as CSV; use a .csv path for recommend.output")
    check_new_output(path, overwrite=overwrite)
    candidates = Candidates(prepared.inputs, np.array(list(prepared.inputs.users_), dtype=object), prepared.table)
    films, scores = rank(candidates, {"model": model}, k, progress="recommending", device=device)["model"]
    frame = pd.DataFrame({"user": np.repeat(candidates.users, films.shape[1]), "rank": np.tile(np.arange(1, films.shape[1] + 1), len(films)),
                          "item": candidates.films[films.ravel()], "score": scores.ravel()})
    frame = frame[np.isfinite(frame["score"])]   # a user who rated every film gets fewer rows, not rated films
    if titles is not None:
        frame.insert(3, "title", frame["item"].map(titles).fillna(""))
    if decode is not None:
        frame = frame.rename(columns={"score": "predicted_rating"}).assign(predicted_rating=lambda f: decode(f["predicted_rating"].to_numpy()))
    with atomic_output(path) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.4f")
    return len(candidates.users), len(frame)
