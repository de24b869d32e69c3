"""scikit-surprise's SVD, SVD++, KNNBaseline and BaselineOnly on our own ratings splits: anchors run side by side.

    pip install -e ".[surprise]"                # scikit-surprise 1.1.5, built from source; not a dependency of pel_torch
    python benchmarks/surprise_anchors.py --splits u1 u2 u3 u4 u5 user_temporal --json docs/surprise_anchors.json

Each model runs with Surprise's default settings and its own seed fixed, fitted on the split's
training and validation ratings together (Surprise chooses nothing on validation), and scored
on the same test ratings as our report (``pel_torch.tasks.ratings.splits``). Surprise clips its
predictions to the rating scale; ours are not clipped.
"""

import argparse
import time

import numpy as np

from common import write_report
from pel_torch.data.movielens import load_movielens
from pel_torch.tasks.ratings.splits import make_split

MODELS = ("BaselineOnly", "SVD", "SVDpp", "KNNBaseline")


def make_model(name: str, seed: int):
    import surprise

    if name == "KNNBaseline":
        return surprise.KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False)
    if name == "BaselineOnly":
        return surprise.BaselineOnly(verbose=False)
    return getattr(surprise, name)(random_state=seed)


def one_split(ratings, split: str, seed: int) -> dict[str, dict[str, float]]:
    import surprise

    parts = make_split(ratings, split, seed=seed)
    base = ratings.iloc[np.concatenate([parts.train, parts.val])]
    test = ratings.iloc[parts.test]
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(base[["user", "item", "rating"]], reader).build_full_trainset()
    scores = {}
    for name in MODELS:
        started = time.perf_counter()
        model = make_model(name, seed).fit(trainset)
        predicted = np.array([model.predict(u, i).est for u, i in zip(test["user"], test["item"])])
        error = predicted - test["rating"].to_numpy(dtype=float)
        scores[name] = {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
                        "seconds": round(time.perf_counter() - started, 1)}
        print(f"{split:>14} {name:<12} RMSE {scores[name]['rmse']:.4f}  MAE {scores[name]['mae']:.4f}  ({scores[name]['seconds']} s)", flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["u1"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    ratings = load_movielens().ratings
    results = {split: one_split(ratings, split, args.seed) for split in args.splits}
    if args.json:
        write_report(args.json, "surprise_anchors.py", started, results=results,
                     meta={"models": "scikit-surprise 1.1.5, default settings; KNNBaseline item-based with pearson_baseline"})


if __name__ == "__main__":
    main()
