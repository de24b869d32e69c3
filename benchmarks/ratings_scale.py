"""A 1,000,000-rating MovieLens-1M-shaped folder, trained on and predicted from: time and peak memory.

    python benchmarks/ratings_scale.py [--ratings 1000209] [--threads 2] [--keep DIR] [--json docs/ratings_scale.json]

No copy of ML-1M ships here (its licence forbids redistribution), so the folder is synthetic, in
ML-1M's format and shape: 6,040 users with at least 20 ratings each, 3,706 films with genres and
years, ``::``-separated ``ratings.dat``, ``movies.dat`` and ``users.dat``. Ratings come from a
low-rank model with user and film biases plus noise, rounded to 1..5, with ML-1M's mean; users'
activity and films' popularity are heavy-tailed; timestamps span ML-1M's 2000-04 .. 2003-02.
The accuracy printed is of this synthetic data and says nothing about real ratings; the times and
memory are the point.

Three commands run as a user runs them, each its own process, its peak resident memory (process
and children) sampled from outside: ``train.py stage=scratch`` (the default stack on the default
``user_temporal`` split), ``evaluate.py`` (test RMSE) and ``evaluate.py predict.input=`` on
1,000,000 (user, film) pairs.
"""

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import write_report

GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
# The networks' defaults suit 100,000 ratings: at 1M, 512-row batches cost ~20 s an epoch and MF
# alone ran 20 min a fold (about 6 h for the stack). Larger batches, a larger step and fewer epochs
# fit the same stack in under an hour; a user at this scale tunes these on validation.
SCALE = [f"++stack.learners.{name}.{key}={value}" for name in ("mf", "svdpp", "neumf")
         for key, value in (("batch_size", 8192), ("learning_rate", 0.01), ("max_epochs", 20))]
START, END = pd.Timestamp("2000-04-25").value // 10 ** 9, pd.Timestamp("2003-02-28").value // 10 ** 9


def synthetic_movielens_1m(folder: Path, n_ratings: int, n_users: int = 6040, n_films: int = 3706, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    # Activity: at least 20 ratings per user, heavy-tailed above, scaled to n_ratings.
    extra = rng.lognormal(0.0, 1.2, n_users)
    per_user = 20 + np.floor(extra / extra.sum() * (n_ratings - 20 * n_users)).astype(int)
    per_user[: n_ratings - per_user.sum()] += 1
    if n_ratings > n_users * n_films:
        raise SystemExit(f"--ratings {n_ratings:,}: more than {n_users:,} users x {n_films:,} films")
    # No user rates a film twice: what a heavy user cannot take goes to users with films left.
    per_user = np.minimum(per_user, n_films)
    while (missing := n_ratings - per_user.sum()) > 0:
        open_users = np.flatnonzero(per_user < n_films)[:missing]
        per_user[open_users] += 1
    popularity = rng.zipf(1.3, n_films).clip(max=10_000).astype(float) + rng.random(n_films)
    popularity /= popularity.sum()
    user_bias, film_bias = rng.normal(0, 0.4, n_users), rng.normal(0, 0.5, n_films)
    user_factors, film_factors = rng.normal(0, 0.45, (n_users, 5)), rng.normal(0, 0.45, (n_films, 5))
    users, films = [], []
    for user, count in enumerate(per_user):
        users.append(np.full(count, user))
        films.append(rng.choice(n_films, count, replace=False, p=popularity))
    users, films = np.concatenate(users), np.concatenate(films)
    score = 3.58 + user_bias[users] + film_bias[films] + np.einsum("ij,ij->i", user_factors[users], film_factors[films])
    rating = np.clip(np.rint(score + rng.normal(0, 0.8, len(users))), 1, 5).astype(int)
    first = rng.integers(START, END - 86_400, n_users)
    timestamp = first[users] + (rng.random(len(users)) * np.minimum(END - first[users], 200 * 86_400)).astype(int)
    pd.DataFrame({"user": users + 1, "item": films + 1, "rating": rating, "timestamp": timestamp}).to_csv(
        folder / "ratings.dat", sep=":", header=False, index=False)
    # pandas writes one-character separators: "::" is ":" with an empty field between, re-joined here.
    text = (folder / "ratings.dat").read_text().replace(":", "::")
    (folder / "ratings.dat").write_text(text)
    years = rng.integers(1919, 2001, n_films)
    genre_lists = ["|".join(sorted(rng.choice(GENRES, rng.integers(1, 4), replace=False))) for _ in range(n_films)]
    (folder / "movies.dat").write_text("".join(f"{i + 1}::Synthetic film {i + 1} ({years[i]})::{genre_lists[i]}\n"
                                               for i in range(n_films)), encoding="latin-1")
    ages, genders = rng.choice([1, 18, 25, 35, 45, 50, 56], n_users), rng.choice(["M", "F"], n_users, p=[0.72, 0.28])
    (folder / "users.dat").write_text("".join(f"{u + 1}::{genders[u]}::{ages[u]}::{rng.integers(0, 21)}::{rng.integers(10000, 99999)}\n"
                                              for u in range(n_users)))


def run(label: str, command: list[str]) -> dict:
    from predict_million import run_with_peak   # psutil: the bench extra; the folder writer needs none of it

    print(f"{label}: {' '.join(command[1:])}", flush=True)
    code, seconds, peak_mib, log = run_with_peak(command)
    if code != 0:
        sys.exit(f"{label} failed ({code}):\n{log[-3000:]}")
    print(f"{label}: {seconds:,.0f} s, peak {peak_mib:,.0f} MiB", flush=True)
    return {"seconds": round(seconds, 1), "peak_mib": round(peak_mib), "log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=1_000_209)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overrides", nargs="*", default=SCALE, help="Hydra overrides of train.py (default: larger batches for the networks)")
    parser.add_argument("--keep", default=None, help="write the folder, checkpoints and predictions here (else a temporary folder)")
    parser.add_argument("--resume", action="store_true", help="with --keep: reuse its data and its train step if they are there")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.keep or scratch)
        folder = work / "ml-1m-synthetic"
        folder.mkdir(parents=True, exist_ok=True)
        trained = work / "train_step.json"
        if not (args.resume and (folder / "ratings.dat").is_file()):
            synthetic_movielens_1m(folder, args.ratings)
            trained.unlink(missing_ok=True)
        # Synthetic titles join no film table: no credit features.
        common = [f"data.paths=[{folder}]", "features.film_table=null", f"threads={args.threads}", f"checkpoints_dir={work / 'checkpoints'}",
                  f"hydra.run.dir={work / 'hydra'}"]
        if args.resume and trained.is_file():
            train = json.loads(trained.read_text())
        else:
            train = run("train", [sys.executable, "train.py", "task=ratings", "stage=scratch", *common, *args.overrides])
            trained.write_text(json.dumps(train))
        checkpoint = re.findall(r"checkpoint: (\S+\.safetensors)", train["log"])[-1]
        test = run("evaluate", [sys.executable, "evaluate.py", "task=ratings", f"ckpt_path={checkpoint}", *common])
        metrics = {name: float(value) for name, value in re.findall(r"^(test/\w+)\s+([-\d.]+)$", test["log"], flags=re.M)}
        ratings = pd.read_csv(folder / "ratings.dat", sep=":", header=None, usecols=[0, 2])
        rng = np.random.default_rng(1)
        pairs = pd.DataFrame({"user": rng.choice(ratings[0].unique(), args.pairs), "item": rng.choice(ratings[2].unique(), args.pairs)})
        pairs.to_csv(work / "pairs.csv", index=False)
        predict = run("predict", [sys.executable, "evaluate.py", "task=ratings", f"ckpt_path={checkpoint}",
                                  f"predict.input={work / 'pairs.csv'}", f"predict.output={work / 'predicted.csv'}", "overwrite=true", *common])
    rows = {name: {key: value for key, value in step.items() if key != "log"}
            for name, step in (("train", train), ("evaluate", test), ("predict", predict))}
    rows["predict"]["ratings_per_s"] = round(args.pairs / rows["predict"]["seconds"])
    print(f"\n{args.ratings:,} synthetic ratings (ML-1M shape), {args.threads} threads; test metrics of synthetic data: {metrics}")
    print("| step | seconds | peak memory (MiB) |\n|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['seconds']:,.0f} | {row['peak_mib']:,} |")
    if args.json:
        write_report(args.json, "ratings_scale.py", started, results={"steps": rows, "test_metrics_synthetic": metrics},
                     meta={"ratings": args.ratings, "pairs": args.pairs, "threads": args.threads, "overrides": args.overrides})


if __name__ == "__main__":
    main()
