"""How each user will rate a film (MovieLens by default): ids, each user's recent ratings and features, one stack."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from pel_torch.data.movielens import load_interactions, load_movielens
from pel_torch.data.ratings import RatingsData
from pel_torch.data.sources import load_films
from pel_torch.errors import DataError
from pel_torch.features.targets import TargetScale
from pel_torch.tasks.base import Prepared, Task, TargetSet, refit_setting
from pel_torch.tasks.ratings import prediction_rows
from pel_torch.tasks.ratings.credits import join_credits
from pel_torch.tasks.ratings.inputs import STATE_VERSION, RatingInputs
from pel_torch.tasks.ratings.splits import make_split

log = logging.getLogger(__name__)
SOURCES = ("movielens", "interactions")


def film_labels(inputs: RatingInputs, items: pd.DataFrame | None, train: pd.DataFrame) -> pd.DataFrame:
    """One row per film embedding row (0: the unknown film): title, genres, year and training ratings, for the projector."""
    films = pd.DataFrame({"item": ["(unknown film)", *inputs.items_]})
    if items is not None:
        films = films.merge(items.drop_duplicates("item").reindex(columns=["item", "title", "genres", "year"]), on="item", how="left")
    films["training ratings"] = films["item"].map(train["item"].value_counts()).fillna(0).astype(int)
    return films.fillna("").rename(columns={"item": "film"})


def film_credits(data: RatingsData, film_table: dict | None) -> dict | None:
    """Directors, writers and cast of the rated films, joined from ``film_table`` by title and year; None without one."""
    if film_table is None:
        return None
    named = f"features.film_table={film_table['source']}"
    if data.items is None or not {"title", "year"} <= set(data.items.columns):
        log.warning("%s: the ratings come without film titles and years to join on, so no credit features; "
                    "give a film table with the ratings, or set features.film_table=null", named)
        return None
    films, _ = load_films(film_table["source"], *film_table["paths"], **film_table["options"])
    credits, counts = join_credits(data.items, films)
    films_rated = len(data.items)
    if not credits:
        raise DataError(f"{named}: none of the {films_rated:,} rated films joins it by title and year; check that the films' "
                        "titles and release years match, or set features.film_table=null")
    log.info("%s: %s of %s rated films joined by title and year (%s of them within a year); %s ambiguous, %s unmatched",
             named, f"{len(credits):,}", f"{films_rated:,}", f"{counts['joined_within_a_year']:,}", f"{counts['ambiguous']:,}",
             f"{counts['unmatched']:,}")
    return credits


class RatingsTask(Task):
    """Rows are ratings; the target is the rating; ``rated`` (did the user rate the film at all,
    against films drawn at random that they did not) is implicit feedback to pretrain on."""

    name = "ratings"
    main_target = "rating"
    pretraining_targets = ("rated",)
    prediction_columns = prediction_rows.OUTPUT_COLUMNS
    input_version = STATE_VERSION

    def load(self, cfg) -> RatingsData:
        options = OmegaConf.to_container(cfg.data.options, resolve=True) or {}
        if cfg.data.source == "movielens":
            if len(cfg.data.paths) > 1:
                raise DataError(f"movielens: give one GroupLens folder (or none for the embedded ML-100K), got {len(cfg.data.paths)}")
            data = load_movielens(cfg.data.paths[0] if cfg.data.paths else None, **options)
        elif cfg.data.source == "interactions":
            if len(cfg.data.paths) != 1:
                raise DataError(f"interactions: give exactly one ratings file (user, item, rating[, timestamp]), got {len(cfg.data.paths)}")
            data = load_interactions(cfg.data.paths[0], **options)
        else:
            raise DataError(f"data.source={cfg.data.source} holds films, not ratings; task=ratings reads {', '.join(SOURCES)} "
                            "(data=movielens or data=interactions)")
        for line in data.report.lines():
            log.info(line)
        return data

    def prepare(self, cfg, inputs: RatingInputs | None = None) -> Prepared:
        data = self.load(cfg)
        split = make_split(data.ratings, cfg.split.kind, seed=cfg.seed, val_fraction=cfg.split.val_fraction,
                           test_fraction=cfg.split.test_fraction, refit=refit_setting(cfg.split, "the training and validation ratings"))
        log.info(split.describe())
        if inputs is None:
            film_table = self.film_table(cfg)
            inputs = RatingInputs(cfg.features.history_length, cfg.features.smoothing, cfg.features.min_occupation, film_table)
            inputs.fit(data, split.known, credits=film_credits(data, film_table))
        raw = inputs.transform(data.ratings)
        ids = (data.ratings["user"] + ":" + data.ratings["item"]).to_numpy()
        return Prepared(data.ratings, split, inputs, raw, inputs.standardize(raw), ids, inputs.groups_, self.sizes(inputs),
                        {"item": film_labels(inputs, data.items, data.ratings.iloc[split.known])})

    @staticmethod
    def sizes(inputs: RatingInputs) -> dict[str, int]:
        return {"user": len(inputs.users_) + 1, "item": len(inputs.items_) + 1, "history": inputs.history_length}

    def describe(self, cfg, prepared: Prepared) -> str:
        source = "the embedded MovieLens-100K" if cfg.data.source == "movielens" and not cfg.data.paths else \
            f"{cfg.data.source} {', '.join(map(str, cfg.data.paths))}"
        ratings = prepared.table
        return f"{source} ({len(ratings):,} ratings by {ratings['user'].nunique():,} users of {ratings['item'].nunique():,} films)"

    def target_values(self, table: pd.DataFrame, name: str) -> np.ndarray:
        return table[name].to_numpy(dtype=np.float64)

    def target_scale(self, prepared: Prepared) -> TargetScale:
        return TargetScale.fit(prepared.table["rating"].to_numpy(dtype=np.float64), prepared.split.train, "rating", log=False)

    def pretraining_set(self, prepared: Prepared, target: str) -> TargetSet:
        """Implicit feedback: each training rating is a 1, as many (user, film) pairs the user never
        rated (drawn per user, seeded) are 0s; standardised. No rating value is read.

        Each 0 is placed at the moment of the rating it was drawn for: the same user, time and
        history, only the film differs. Undated 0s (as of the end of training) were told apart from
        the 1s by their time features alone: out-of-fold R2 0.9999 on u1, a shortcut, not a signal."""
        train = prepared.split.train
        rated = prepared.table.iloc[train]
        rng = np.random.default_rng(0)
        films = np.array(sorted(prepared.inputs.items_))
        seen = set(zip(rated["user"], rated["item"]))
        users = rated["user"].to_numpy()
        drawn = films[rng.integers(0, len(films), len(users))]
        unrated = np.array([(u, m) not in seen for u, m in zip(users, drawn)])
        negatives = rated.loc[unrated, ["user", "timestamp", "line"]].assign(item=drawn[unrated])
        raw = np.vstack([prepared.raw[train], prepared.inputs.transform(negatives)])
        y = np.concatenate([np.ones(len(train)), np.zeros(int(unrated.sum()))])
        y = (y - y.mean()) / y.std()
        ids = [*prepared.ids[train], *(negatives["user"] + ":" + negatives["item"])]
        return TargetSet(prepared.inputs.standardize(raw), y, {"name": target, "log": False, "mean": 0.0, "std": 1.0}, ids,
                         "the training ratings (which films each user rated)")

    def metrics(self, y: np.ndarray, prediction: np.ndarray, scale: TargetScale, rows=None) -> dict[str, float]:
        """RMSE and MAE in stars, and how many ratings."""
        error = (prediction - y) * scale.std
        return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))), "ratings": float(len(y))}

    def test_groups(self, prepared: Prepared) -> dict[str, np.ndarray]:
        """Warm users (with training ratings) and cold users (none), apart, where the split has both (global_temporal)."""
        users = prepared.table["user"]
        # pandas hashes: numpy's isin compares object arrays pairwise, hours at 1M ratings
        cold = ~users.iloc[prepared.split.test].isin(users.iloc[prepared.split.known]).to_numpy()
        return {"warm_users": ~cold, "cold_users": cold} if cold.any() and not cold.all() else {}

    def input_settings(self, cfg) -> dict:
        f = cfg.features
        return RatingInputs(f.history_length, f.smoothing, f.min_occupation, self.film_table(cfg)).settings()

    @staticmethod
    def film_table(cfg) -> dict | None:
        table = cfg.features.get("film_table")
        if table is None:
            return None
        # An unset option (null) is left to the loader's default: the Wikidata loader takes no column mapping.
        options = {k: v for k, v in (OmegaConf.to_container(table.get("options") or {}, resolve=True)).items() if v is not None}
        return {"source": str(table.source), "paths": [str(p) for p in table.paths], "options": options}

    def load_inputs(self, arrays, spec) -> RatingInputs:
        return RatingInputs.from_state(arrays, spec)

    def split_signature(self, cfg) -> dict:
        return {"source": cfg.data.source, "paths": [str(p) for p in cfg.data.paths], **OmegaConf.to_container(cfg.split, resolve=True),
                "seed": cfg.seed}

    def prediction_rows(self, checkpoint, source: Path, batch_size: int):
        return prediction_rows.pair_chunks(checkpoint.inputs, source, batch_size)

    def fill_predictions(self, frame, rows, standardised, scale: TargetScale):
        frame.loc[rows, "predicted_rating"] = scale.decode(standardised)
        return frame

    def recommend(self, cfg, checkpoint) -> list[str]:
        """Writes ``recommend.output`` (each user's ``recommend.k`` best unrated films) and measures the same
        ranking on the checkpoint's test ratings, beside ranking by popularity."""
        from pel_torch.evaluation import checkpoint_config
        from pel_torch.inference import select_kernels
        from pel_torch.tasks.ratings.recommend import evaluate_ranking, write_recommendations

        r = cfg.recommend
        if not isinstance(r.k, int) or r.k < 1:
            raise DataError(f"recommend.k={r.k}: give how many films to recommend per user, a whole number >= 1")
        saved = checkpoint_config(cfg, checkpoint)
        prepared = self.prepare(saved, inputs=checkpoint.inputs)
        model, _ = select_kernels(checkpoint.model, cfg.kernels, cfg.device)
        target = TargetScale.from_dict(checkpoint.spec["target"])
        films = prepared.labels["item"]   # the projector's film labels: every film the checkpoint can recommend, titled
        titles = films.set_index("film")["title"] if "title" in films else None
        users, rows = write_recommendations(prepared, model, r.k, r.output, titles=titles, overwrite=cfg.overwrite, device=cfg.device,
                                            decode=target.decode if target.name == self.main_target else None)
        lines = [f"wrote {rows:,} recommendations for {users:,} users -> {r.output} (ranked by {target.name})",
                 f"the same ranking on the {saved.split.kind} test ratings (rated >= {r.relevant_from} is relevant):"]
        for name, m in evaluate_ranking(prepared, {"this checkpoint": model}, r.k, r.relevant_from, cfg.device).items():
            lines.append(f"  {name:<16} precision@{r.k} {m[f'precision@{r.k}']:.4f}  NDCG@{r.k} {m[f'ndcg@{r.k}']:.4f}  "
                         f"({m['users']:.0f} users)")
        return lines

    def report(self, cfg) -> list[Path]:
        from pel_torch.tasks.ratings.report import run_report  # the report trains: kept off evaluate's import path

        return run_report(cfg)
