"""The learner contract: ``__init__`` stores arguments, ``fit`` returns self, fitted state ends in ``_``."""

import numpy as np

from pel_torch.errors import PelError


class Learner:
    """One library's regressor with small-data defaults, seeded and thread-capped.

    ``params`` override ``DEFAULTS`` key by key; ``threads`` caps the library's thread pool;
    ``seed`` makes the fit reproducible. ``fit(X (n, f) float32, y (n,) float64)``;
    ``predict(X) -> (n,) float64``.
    """

    name = "learner"
    # The input groups this learner reads (``Prepared.groups``): features for trees and tabular
    # networks; a task may offer others (ids, sequences) for learners that embed them.
    inputs: tuple[str, ...] = ("features",)
    DEFAULTS: dict = {}
    strict_params = False  # library learners pass other keys on to the library, which checks them

    def __init__(self, params: dict | None = None, *, seed: int = 0, threads: int = 1):
        unknown = sorted(set(params or {}) - set(self.DEFAULTS)) if self.strict_params else []
        if unknown:
            raise PelError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(self.DEFAULTS))}")
        self.params = dict(params or {})
        self.seed = seed
        self.threads = threads

    @property
    def settings(self) -> dict:
        return {**self.DEFAULTS, **self.params}

    def clone(self, seed: int) -> "Learner":
        """An unfitted copy with another seed (one per bagging fold)."""
        return type(self)(self.params, seed=seed, threads=self.threads)

    def warm_start(self, pretrained) -> None:
        """Start later fits from ``pretrained``, this learner's compiled module from a pretrained stack
        (``finetune.strategy=refit``), where the model allows it. Trees cannot: they are refitted."""

    def fit(self, X: np.ndarray, y: np.ndarray, sizes: dict[str, int] | None = None, times: np.ndarray | None = None) -> "Learner":
        """``sizes``: how many ids each id group of the task holds (``Prepared.sizes``), so the embedding
        tables of every fold model have the same rows whichever ids its fold happens to hold.
        ``times`` (n,): when each row's target happens (``Prepared.times``), for learners that hold the
        latest rows out to stop early; None where the task gives no times."""
        self.sizes_ = dict(sizes or {})
        self.times_ = times
        try:
            return self._fit(X, y)
        except TypeError as err:
            if "keyword" not in str(err) and "argument" not in str(err):
                raise
            raise PelError(f"{self.name}: bad parameter ({err}); check learners.{self.name} in the config") from None
        finally:
            self.times_ = None   # read by the fit alone; a fitted learner keeps no copy of its rows

    def _fit(self, X: np.ndarray, y: np.ndarray) -> "Learner":
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(X), dtype=np.float64)
