"""Batch prediction's rows for ratings: each (user, film[, timestamp]) pair, scored or with the reason it is not.

A user or film the training ratings never showed is still scored, from the other side and the
features (an embedding's unknown row is zero), and its ``reason`` says so; a pair without a user
or a film, or with a timestamp that does not parse, keeps its row, unscored, with its reason.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from pel_torch.data.files import read_chunks
from pel_torch.data.ratings import normalise_ids, parse_timestamps
from pel_torch.errors import DataError
from pel_torch.tasks.ratings.inputs import RatingInputs

OUTPUT_COLUMNS = ("user", "item", "predicted_rating", "reason")


def pair_chunks(inputs: RatingInputs, source: Path, batch_size: int):
    """Per chunk: the output frame (predictions empty), the scorable rows, and their raw inputs."""
    for chunk in read_chunks(source, batch_size, what="pairs file (user, item[, timestamp])"):
        missing = [c for c in ("user", "item") if c not in chunk.columns]
        if missing:
            raise DataError(f"{source}: missing column(s) {', '.join(missing)}; batch prediction reads user, item[, timestamp]")
        yield _prepare_chunk(chunk.reset_index(drop=True), inputs)


def _prepare_chunk(chunk: pd.DataFrame, inputs: RatingInputs) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    users, items = normalise_ids(chunk["user"]), normalise_ids(chunk["item"])
    times, bad_time = parse_timestamps(chunk["timestamp"]) if "timestamp" in chunk else (np.full(len(chunk), np.nan), np.zeros(len(chunk), bool))
    reasons = np.select([users == "", items == "", bad_time, ~users.isin(inputs.users_) & ~items.isin(inputs.items_),
                         ~users.isin(inputs.users_), ~items.isin(inputs.items_)],
                        ["no user", "no film", "timestamp is neither Unix seconds nor a date",
                         "unknown user and film: predicted from their features alone",
                         "unknown user: predicted from the film alone", "unknown film: predicted from the user alone"], "")
    out = pd.DataFrame({"user": users, "item": items, "predicted_rating": np.nan, "reason": reasons})
    good = out.index[~pd.Series(reasons).isin(["no user", "no film", "timestamp is neither Unix seconds nor a date"])]
    pairs = pd.DataFrame({"user": users[good], "item": items[good], "timestamp": times[good]})
    raw = inputs.transform(pairs) if len(good) else np.empty((0, len(inputs.feature_names_)))
    return out, good, raw
