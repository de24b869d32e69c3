"""The one minibatch training loop of the engine's networks: shuffled batches, early stopping on a
holdout, the best weights restored; and the holdout itself."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def holdout_split(n_rows: int, share: float, generator: torch.Generator, times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(train, holdout)`` row positions: about ``share`` of the rows held out for early stopping.

    Without ``times`` the holdout is a seeded random sample. With ``times`` (when each row's target
    happens, ``Learner.fit``) it is the rows of the latest times, and every training row's target
    is earlier than every held-out one's. Rows near in time share most of their inputs (forecast
    windows a period apart), so a random holdout can reward a network that memorises its neighbours;
    the latest rows may in turn be too few periods to judge by. docs/forecasting.md measures both."""
    n_holdout = max(1, int(round(share * n_rows)))
    if times is not None:
        cutoff = np.sort(times)[n_rows - n_holdout]
        later = times >= cutoff
        if not later.all():   # every row at one time: nothing is later than anything, so the sample is random
            return np.flatnonzero(~later), np.flatnonzero(later)
    order = torch.randperm(n_rows, generator=generator).numpy()
    return order[n_holdout:], order[:n_holdout]


def train_early_stopped(network: nn.Module, optimizer: torch.optim.Optimizer, batch_loss: Callable[[torch.Tensor], torch.Tensor],
                        holdout_loss: Callable[[], float], n_train: int, *, batch_size: int, max_epochs: int, patience: int,
                        generator: torch.Generator) -> int:
    """Train ``network`` for up to ``max_epochs`` epochs; return the number of epochs run.

    ``batch_loss(rows)`` is the loss of training rows ``rows`` (int64 positions in ``[0, n_train)``);
    ``holdout_loss()`` scores the holdout in eval mode. Training stops after ``patience`` epochs
    without an improvement of 1e-6, and the weights of the best holdout loss are loaded back.
    """
    best, best_state, stale, epoch = np.inf, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        network.train()
        for batch in torch.randperm(n_train, generator=generator).split(batch_size):
            if len(batch) < 2:
                continue  # batch-norm needs two rows
            optimizer.zero_grad()
            batch_loss(batch).backward()
            optimizer.step()
        network.eval()
        with torch.no_grad():
            score = holdout_loss()
        if score < best - 1e-6:
            best, best_state, stale = score, {k: v.clone() for k, v in network.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= patience:
                break
    network.load_state_dict(best_state)
    network.eval()
    return epoch
