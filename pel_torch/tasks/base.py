"""What a task plugs into the engine: its data, splits, inputs, targets, metrics and report.

The engine (learners, stacking, compilation, the LightningModule, checkpoints, batch inference,
export) works on a task's ``Prepared`` rows: a float64 input matrix, standardised features, row
positions of the train / validation / test parts, and the fitted input builder that made them.
A task never fits a learner; the engine never reads a task's table.

A task is chosen with the Hydra group ``task=`` (``pel_torch/configs/task/``), which instantiates
its class and may switch the defaults of the ``data``, ``split`` and ``features`` groups.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pel_torch.errors import DataError, PelError
from pel_torch.features.targets import TargetScale

REFITS = ("bagged", "once")   # split.refit, beside false; true is bagged, as checkpoints before "once" saved it


def refit_setting(split, rows: str) -> str | bool:
    """``split.refit`` checked: bagged, once, or false (also where a config saved before the key has none);
    ``rows`` says which rows the members are refitted on, for the error."""
    value = split.get("refit", False)
    if not (isinstance(value, bool) or value in REFITS):   # 0 or "no" would each mean something unsaid
        raise DataError(f"split.refit={value}: give bagged, once or false (how the members are refitted on {rows})")
    return value


class InputBuilder(Protocol):
    """A task's fitted input builder (a featurizer): what a checkpoint stores through its task."""

    mean_: np.ndarray            # (n_inputs,) float64: subtracted before the stack's learners see a row
    std_: np.ndarray             # (n_inputs,) float64
    feature_names_: list[str]    # (n_inputs,)

    def settings(self) -> dict: ...                                  # constructor arguments, JSON
    def state(self) -> tuple[dict[str, np.ndarray], dict]: ...       # fitted arrays and a JSON spec
    def standardize(self, raw: np.ndarray) -> np.ndarray: ...        # (n, n_inputs) float64 -> float32


@dataclass
class Prepared:
    """A task's rows, split and inputs: what the engine's stages work on."""

    table: pd.DataFrame          # the task's canonical rows (films, interactions, ...)
    split: Any                   # ``.train``, ``.val``, ``.test``: int64 row positions; ``.describe()``; optionally ``.refit``:
                                 # rows the members are fitted on again once the head is chosen on ``.val`` (``fit_scratch``),
                                 # and ``.refit_once``: the last layer fitted once on them, not bagged (``StackedEnsemble.refit``)
    inputs: InputBuilder
    raw: np.ndarray              # (n_rows, n_inputs) float64: the compiled model's input
    features: np.ndarray         # (n_rows, n_inputs) float32, standardised: what learners are fitted on
    ids: np.ndarray              # (n_rows,) str: each row's identity (the ``prior`` strategy matches on it)
    groups: dict[str, np.ndarray] | None = None   # input group -> its columns (``Learner.inputs``); None: all are features
    sizes: dict[str, int] | None = None           # id group -> how many ids it holds, 0 the unknown one (embedding rows)
    labels: dict[str, pd.DataFrame] | None = None  # id group -> one row per embedding row, for TensorBoard's projector
    times: np.ndarray | None = None              # (n_rows,) when each row's target happens, comparable across rows: networks
                                                 # stop early on the latest rows (``Learner.fit``); None: on a random tenth

    def times_of(self, rows: np.ndarray) -> np.ndarray | None:
        return None if self.times is None else self.times[rows]


@dataclass
class TargetSet:
    """The rows one pretraining target is learned from."""

    features: np.ndarray   # (m, n_inputs) float32, standardised like ``Prepared.features``
    y: np.ndarray          # (m,) float64, standardised
    target: dict           # ``TargetScale.to_dict()``: name, log, mean, std
    ids: list[str]         # (m,) row identities
    source: str            # where the values come from, for messages: "the 'votes' column"


class Task:
    """The plug-in contract. Subclasses set the class attributes and implement every method."""

    name: str = "task"
    main_target: str = "target"                       # what finetune, scratch and evaluate predict
    pretraining_targets: tuple[str, ...] = ()         # what ``stage=pretrain`` may learn first
    prediction_columns: tuple[str, ...] = ()          # the columns batch prediction writes
    config_keys: tuple[str, ...] = ()                 # top-level config keys of the task's own that a fit depends on
    input_version: int | None = None                  # the version its input builder's state() writes; None: not compared

    def prepare(self, cfg, inputs: InputBuilder | None = None) -> Prepared:
        """Load, split, and build inputs fitted on what the split may know (or with ``inputs``, already fitted)."""
        raise NotImplementedError

    def describe(self, cfg, prepared: Prepared) -> str:
        """Where the data came from and what it holds, for reports and logs."""
        raise NotImplementedError

    def target_values(self, table: pd.DataFrame, name: str) -> np.ndarray:
        """Target ``name`` of every row in its own units, float64 with NaN where unknown."""
        raise NotImplementedError

    def target_scale(self, prepared: Prepared) -> TargetScale:
        """The main target's learning scale, fitted on the training rows."""
        raise NotImplementedError

    def pretraining_set(self, prepared: Prepared, target: str) -> TargetSet:
        """The rows and standardised values of pretraining target ``target``."""
        raise NotImplementedError

    def metrics(self, y: np.ndarray, prediction: np.ndarray, scale: TargetScale, rows: pd.DataFrame | None = None) -> dict[str, float]:
        """Metrics of standardised predictions; ``rows``: the scored rows of ``Prepared.table``, for metrics that
        need more than the values (a forecast's series and history)."""
        raise NotImplementedError

    def input_settings(self, cfg) -> dict:
        """The input builder's settings under ``cfg``, compared with a checkpoint's before reuse."""
        raise NotImplementedError

    def load_inputs(self, arrays: dict[str, np.ndarray], spec: dict) -> InputBuilder:
        """The input builder a checkpoint stored (``InputBuilder.state()``)."""
        raise NotImplementedError

    def split_signature(self, cfg) -> dict:
        """What decides which rows a model may learn from: stored with checkpoints, compared on reload."""
        raise NotImplementedError

    def prediction_rows(self, checkpoint, source: Path, batch_size: int) -> Iterator[tuple[pd.DataFrame, pd.Index, np.ndarray]]:
        """Per chunk of ``source``: the output frame (``prediction_columns``), the scorable rows, their raw inputs
        (built by ``checkpoint.inputs``, from a file in the format ``checkpoint`` was trained on)."""
        raise NotImplementedError

    def fill_predictions(self, frame: pd.DataFrame, rows: pd.Index, standardised: np.ndarray, scale: TargetScale) -> pd.DataFrame:
        """Write standardised predictions of ``rows`` into ``frame`` in the target's own units."""
        raise NotImplementedError

    def test_groups(self, prepared: Prepared) -> dict[str, np.ndarray]:
        """Named parts of the test rows scored apart as well (boolean masks over ``prepared.split.test``); none by default."""
        return {}

    def figures(self, prepared: Prepared, rows: np.ndarray, prediction: np.ndarray, scale: TargetScale) -> dict:
        """Figures of ``prediction`` (standardised) on the rows at positions ``rows``, for TensorBoard: ``{tag: matplotlib Figure}``."""
        return {}

    def recommend(self, cfg, checkpoint) -> list[str]:
        """``recommend.output``: write each user's best items by ``checkpoint`` and return lines to print; for tasks with users."""
        raise PelError(f"recommend.output: task={self.name} has no users to recommend to; it is for task=ratings")

    def forecast(self, cfg, checkpoint) -> list[str]:
        """``forecast.output``: write every series' forecast past the data by ``checkpoint``; for forecasting tasks."""
        raise PelError(f"forecast.output: task={self.name} forecasts no series; it is for task=genre_volume")

    def report(self, cfg) -> list[Path]:
        """The task's published-style report (box office: Table 2); returns the files written."""
        raise NotImplementedError
