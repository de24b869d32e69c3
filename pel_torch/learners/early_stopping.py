"""The one minibatch training loop of the engine's networks: shuffled batches, early stopping on a
holdout, the best weights restored."""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


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
