"""RMSE by how many ratings the user had before (cold -> warm), per model: a table and a figure.

A rating's "ratings before" is its ``user_prior_ratings`` input: the user's training ratings
strictly earlier in time, the same count the models saw, so a user's early test ratings and
late ones can fall in different bins.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# (lowest, highest) prior ratings per bin: cold start, then roughly tripling.
BINS = ((0, 0), (1, 9), (10, 29), (30, 99), (100, 299), (300, None))


def bin_label(low: int, high: int | None) -> str:
    return f"{low}" if high == low else f"{low}+" if high is None else f"{low}-{high}"


def prior_counts(raw: np.ndarray, feature_names: list[str], who: str = "user") -> np.ndarray:
    """Per row, the user's (or ``who="item"``: the film's) training ratings before it (the input stores log1p of the count)."""
    return np.rint(np.expm1(raw[:, feature_names.index(f"{who}_prior_ratings")])).astype(np.int64)


def bin_masks(counts: np.ndarray, bins=BINS) -> list[np.ndarray]:
    """One boolean mask per ``(lowest, highest)`` bin (highest None: no upper bound)."""
    return [(counts >= low) & (counts <= (high if high is not None else np.iinfo(np.int64).max)) for low, high in bins]


def by_history(counts: np.ndarray, y: np.ndarray, predictions: dict[str, np.ndarray], std: float) -> dict:
    """``{"bins": [...], "ratings": [n per bin], "rmse": {model: [per bin, None where empty]}}``, in stars."""
    masks = bin_masks(counts)
    rmse = {model: [float(np.sqrt(np.mean(((p[m] - y[m]) * std) ** 2))) if m.any() else None for m in masks]
            for model, p in predictions.items()}
    return {"bins": [bin_label(*b) for b in BINS], "ratings": [int(m.sum()) for m in masks], "rmse": rmse}


def plot(table: dict, title: str, path: Path, highlight: tuple[str, ...] = (), leave_out: tuple[str, ...] = ()) -> Path:
    """One line per model over the bins that hold ratings; ``highlight``: drawn thick; ``leave_out``: in the table only."""
    keep = [i for i, n in enumerate(table["ratings"]) if n]
    figure, axis = plt.subplots(figsize=(8, 4.8))
    shown = [(model, values) for model, values in table["rmse"].items() if model not in leave_out]
    for model, values in sorted(shown, key=lambda item: -np.nanmean([v for v in item[1] if v is not None])):
        axis.plot(range(len(keep)), [values[i] for i in keep], marker="o", label=model,
                  linewidth=2.8 if model in highlight else 1.2, zorder=3 if model in highlight else 2)
    axis.set_xticks(range(len(keep)), [f"{table['bins'][i]}\n({table['ratings'][i]:,} ratings)" for i in keep])
    axis.set_xlabel("the user's training ratings before this one")
    axis.set_ylabel("test RMSE (stars)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
