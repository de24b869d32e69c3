"""Multi-layer stacking (P-EL, eq. 4): layer l+1 learns from ``concat(OOF preds of layer l, Z)``.

The same folds serve every learner and every layer, so no out-of-fold prediction ever comes
from a model that saw its row. The head is ensemble selection on the last layer's OOF preds.
"""

import logging

import numpy as np
from tqdm.auto import tqdm

from pel_torch.errors import PelError
from pel_torch.learners.bagging import BaggedLearner, check_jobs, fit_bagged, fold_indices
from pel_torch.learners.base import Learner
from pel_torch.learners.selection import ensemble_selection, grouped_selection, one_hot_group, weighted
from pel_torch.metrics import r2_score

log = logging.getLogger(__name__)

LAST_LAYERS = ("bagged", "once")


class StackedEnsemble:
    """``layers``: per layer, the unfitted learners it holds. ``passthrough`` is the residual
    concat of the raw features (AutoGluon's ``use_orig_features``).

    ``head_groups``: the input group (one-hot columns of ``X``) whose value picks the head's weights; None for one set.

    ``last_layer``: ``bagged`` fits each learner of the last layer once per fold, as every layer before it;
    ``once`` fits each of them once on all the rows. Only a later layer needs out-of-fold predictions, and the
    head needs them only where no held-out rows choose it: ``once`` therefore requires ``select_on`` before
    predicting, and gives one model per learner instead of ``n_folds`` to compute.

    ``jobs``: how many of a layer's fits (learner x fold) run at once, each in its own process; the models
    are the same as with one.

    Fitted state: ``layers_`` (BaggedLearners per layer), ``oof_`` (n, n_models) of the last
    layer, ``weights_`` of the selection head: (n_models,), or (n_groups, n_models) with
    ``head_columns_`` the group's columns.
    """

    def __init__(self, layers: list[list[Learner]], n_folds: int = 5, passthrough: bool = True,
                 selection_rounds: int = 25, seed: int = 0, progress: bool = True, head_groups: str | None = None,
                 last_layer: str = "bagged", jobs: int = 1):
        if last_layer not in LAST_LAYERS:
            raise PelError(f"stack.last_layer={last_layer}: give {' or '.join(LAST_LAYERS)}")
        self.jobs = check_jobs(jobs)
        self.layers = layers
        self.last_layer = last_layer
        self.head_groups = head_groups
        self.n_folds = n_folds
        self.passthrough = passthrough
        self.selection_rounds = selection_rounds
        self.seed = seed
        self.progress = progress

    def fit(self, X: np.ndarray, y: np.ndarray, groups: dict[str, np.ndarray] | None = None,
            sizes: dict[str, int] | None = None, times: np.ndarray | None = None) -> "StackedEnsemble":
        """``X`` (n, n_inputs) float32, ``y`` (n,) float64. ``groups``: the columns of ``X`` in each
        named input group (``Learner.inputs``); None for one group, ``features``, of every column.
        ``sizes``: how many ids each id group holds; ``times``: when each row's target happens (``Learner.fit``)."""
        self.head_columns_ = self._head_columns(groups)
        if self.last_layer == "once":
            self._fit_layers(X, y, groups, sizes, times, bag_last=False)
            self.oof_ = self.weights_ = None   # no out-of-fold predictions to choose the head on: select_on does
            return self
        self.oof_ = self._fit_layers(X, y, groups, sizes, times, bag_last=True)
        self.weights_ = self._select(self.oof_, y, X)
        log.info("selection weights: %s; out-of-fold R2 %.4f", self._weights_text(), r2_score(y, self.combine(self.oof_, X)))
        return self

    def refit(self, X: np.ndarray, y: np.ndarray, groups: dict[str, np.ndarray] | None = None,
              sizes: dict[str, int] | None = None, once: bool = False, times: np.ndarray | None = None) -> "StackedEnsemble":
        """Fit the learners again on ``(X, y)``, rows later than those the head was chosen on, and keep that head
        (a head chosen on rows its members were fitted on would trust the trees). ``oof_`` is dropped: it is no
        longer this stack's.

        The kept head needs no out-of-fold predictions. With ``once``, each learner of the last layer is therefore
        fitted once on all the rows (AutoGluon's ``refit_full``) instead of once per fold; earlier layers are
        bagged again, since the next layer learns from their out-of-fold predictions. Once is cheaper where the
        fit grows slower than the rows, but a network fitted once loses the average of its fold models
        (docs/forecasting.md measures both). A stack whose ``last_layer`` is ``once`` is refitted once in any case."""
        self._fit_layers(X, y, groups, sizes, times, bag_last=not (once or self.last_layer == "once"), desc="refit")
        self.oof_ = None
        log.info("selection weights kept from the held-out choice: %s", self._weights_text())
        return self

    def _fit_layers(self, X, y, groups, sizes, times, bag_last: bool, desc: str = "stack") -> np.ndarray:
        """Fit every layer in turn; the last layer's out-of-fold predictions (NaN where it was not bagged)."""
        folds = fold_indices(len(y), self.n_folds, self.seed)
        every_row = [(np.arange(len(y)), np.arange(0))]
        last = len(self.layers)
        total = sum(len(learners) * (self.n_folds if bag_last or depth < last else 1)
                    for depth, learners in enumerate(self.layers, start=1))
        self.layers_, inputs, n_previous = [], X, 0
        with tqdm(total=total, desc=desc, unit="fit", disable=not self.progress) as bar:
            for depth, learners in enumerate(self.layers, start=1):
                layer_folds = folds if bag_last or depth < last else every_row

                def on_fold(name, fold, seconds):
                    bar.set_postfix_str(f"layer {depth} {name} fold {fold + 1}/{len(layer_folds)} {seconds:.1f}s")
                    bar.update()

                bagged = fit_bagged([BaggedLearner(learner, layer_folds, self._columns(learner, groups, X.shape[1], n_previous))
                                     for learner in learners], inputs, y, on_fold, sizes, times, self.jobs)
                self.layers_.append(bagged)
                oof = np.column_stack([b.oof_ for b in bagged])
                if layer_folds is folds:
                    for b in bagged:
                        log.info("layer %d %-13s out-of-fold R2 %.4f", depth, b.name, r2_score(y, b.oof_))
                inputs, n_previous = self._next_inputs(oof, X), oof.shape[1]
        return oof

    def select_on(self, X: np.ndarray, y: np.ndarray) -> "StackedEnsemble":
        """Choose the head's weights on held-out rows (``X``, ``y``) instead of the out-of-fold predictions.

        Out-of-fold rows are a shuffled sample of the training rows; validation rows that come later
        in time are not. Under drift the trees, which predict within the targets they saw, look best
        out of fold and worst later on: on the temporal split the out-of-fold head weighted them and
        lost 0.03 test R2 to the stack's own network (docs/RESULTS.md, "The stack and its members")."""
        self.weights_ = self._select(self.predict_layers(X)[-1], y, X)
        log.info("selection weights on %d held-out rows: %s", len(y), self._weights_text())
        return self

    def named_predictions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``{"layer k name": (n,)}`` of every learner on ``X`` and ``"model"``: the head over the last layer."""
        layers = self.predict_layers(X)
        named = {f"layer {depth} {name}": column for depth, (names, outputs) in enumerate(zip(self.learner_names, layers), start=1)
                 for name, column in zip(names, outputs.T)}
        return {**named, "model": self.combine(layers[-1], X)}

    def _select(self, predictions: np.ndarray, y: np.ndarray, X: np.ndarray) -> np.ndarray:
        if self.head_columns_ is None:
            return ensemble_selection(predictions, y, self.selection_rounds)
        return grouped_selection(predictions, y, one_hot_group(X, self.head_columns_), len(self.head_columns_), self.selection_rounds)

    def combine(self, predictions: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The head over the last layer's ``predictions`` (n, n_models) of the rows ``X``."""
        return weighted(predictions, self.chosen_weights(), None if self.head_columns_ is None else one_hot_group(X, self.head_columns_))

    def _head_columns(self, groups: dict[str, np.ndarray] | None) -> np.ndarray | None:
        if self.head_groups is None:
            return None
        if groups is None or self.head_groups not in groups:
            raise PelError(f"stack.head_groups={self.head_groups}: this task has no input group of that name "
                           f"(it has: {', '.join(groups or {}) or 'none'}); set stack.head_groups=null")
        return np.asarray(groups[self.head_groups], dtype=np.int64)

    def chosen_weights(self) -> np.ndarray:
        """``weights_``, once a head has been chosen."""
        if self.weights_ is None:
            raise PelError("stack.last_layer=once: the head is chosen on held-out rows, and none were given "
                           "(this stage has no validation rows); set stack.last_layer=bagged")
        return self.weights_

    def mean_weights(self) -> np.ndarray:
        """``(n_models,)``: the head's weights, averaged over its groups where it has groups (for reading, not predicting)."""
        weights = self.chosen_weights()
        return weights if weights.ndim == 1 else weights.mean(axis=0)

    def _weights_text(self) -> str:
        text = ", ".join(f"{name} {weight:.2f}" for name, weight in zip(self.learner_names[-1], self.mean_weights()) if weight > 0)
        return text if self.weights_.ndim == 1 else f"{text} (the mean over {len(self.weights_)} {self.head_groups} groups)"

    @property
    def learner_names(self) -> list[list[str]]:
        return [[b.name for b in layer] for layer in self.layers_]

    def predict_layers(self, X: np.ndarray) -> list[np.ndarray]:
        """Each layer's predictions ``(n, n_models)`` on new rows, fold models averaged."""
        outputs, inputs = [], X
        for bagged in self.layers_:
            predictions = np.column_stack([b.predict(inputs) for b in bagged])
            outputs.append(predictions)
            inputs = self._next_inputs(predictions, X)
        return outputs

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` float64: the selection head over the last layer."""
        return self.combine(self.predict_layers(X)[-1], X)

    def _next_inputs(self, predictions: np.ndarray, X: np.ndarray) -> np.ndarray:
        # Learners see float32, as the compiled stack will feed them.
        stacked = np.hstack([predictions, X]) if self.passthrough else predictions
        return stacked.astype(np.float32)

    def _columns(self, learner: Learner, groups: dict[str, np.ndarray] | None, n_inputs: int, n_previous: int) -> np.ndarray | None:
        """The columns of its layer's input that ``learner`` reads: the previous layer's predictions
        (from layer 2 on) and its input groups of ``X`` (the first layer, or with ``passthrough``)."""
        if groups is None:
            return None
        missing = [name for name in learner.inputs if name not in groups]
        if missing:
            raise PelError(f"learner '{learner.name}' reads input group(s) {', '.join(missing)}, which this task does not provide "
                           f"(it has: {', '.join(groups)}); remove it from stack.layer")
        own = np.concatenate([np.asarray(groups[name], dtype=np.int64) for name in learner.inputs])
        if n_previous and not self.passthrough:
            return None
        columns = np.concatenate([np.arange(n_previous), n_previous + own])
        return None if np.array_equal(columns, np.arange(n_previous + n_inputs)) else columns
