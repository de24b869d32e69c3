"""An entity-embedding network: the film's features plus learned vectors for its people and companies.

The stack's learners see people only through their track records (counts and smoothed means of
earlier films). ``EntityNet`` learns one vector per director, actor, writer and company instead,
so it can be pretrained on the ~16k rated films, where most people appear, and carried over to
the ~1.6k box-office films: the issue's "entity embeddings" direction.

``fit_network`` is the one training loop: masked MSE over any number of targets (a film may lack
some), AdamW, early stopping on a holdout, the best weights restored.
"""

import numpy as np
import torch
from torch import nn

from pel_torch.features.entity_slots import EMPTY

TRAINING_DEFAULTS = {"learning_rate": 1e-3, "weight_decay": 1e-4, "batch_size": 256, "max_epochs": 200, "patience": 15}


class EntityNet(nn.Module):
    """``(z (batch, n_features) float, slots (batch, n_slots) int64) -> (batch, n_outputs)``.

    Each field's slots are averaged into one vector (empty slots ignored), concatenated with ``z``
    and passed through a batch-norm MLP.
    """

    def __init__(self, n_features: int, vocabulary_sizes: list[int], field_slices: list[slice], dim: int = 16,
                 hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1, n_outputs: int = 1):
        super().__init__()
        self.field_slices = list(field_slices)
        self.embeddings = nn.ModuleList([nn.EmbeddingBag(size, dim, mode="mean", padding_idx=EMPTY) for size in vocabulary_sizes])
        self.embedding_dropout = nn.Dropout(dropout)
        blocks, width = [], n_features + dim * len(vocabulary_sizes)
        for size in hidden:
            blocks += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*blocks)
        self.output = nn.Linear(width, n_outputs)

    def forward(self, z: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        vectors = [self.embedding_dropout(embedding(slots[:, columns])) for embedding, columns in zip(self.embeddings, self.field_slices)]
        return self.output(self.body(torch.cat([z.float(), *vectors], dim=1)))

    def new_output(self, n_outputs: int, seed: int) -> None:
        """A fresh output layer for another target (pretrained body and embeddings kept)."""
        torch.manual_seed(seed)
        self.output = nn.Linear(self.output.in_features, n_outputs)

    def predict(self, z: np.ndarray, slots: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """``(n, n_outputs)`` float64, in eval mode."""
        self.eval()
        with torch.no_grad():
            parts = [self(torch.from_numpy(z[i:i + batch_size]), torch.from_numpy(slots[i:i + batch_size]))
                     for i in range(0, len(z), batch_size)]
        return torch.cat(parts).double().numpy()


def fit_network(network: EntityNet, z: np.ndarray, slots: np.ndarray, y: np.ndarray, train: np.ndarray, holdout: np.ndarray,
                *, seed: int, parameters=None, **settings) -> int:
    """Train ``network`` on rows ``train`` of ``y`` (``(n, n_outputs)``, NaN = unknown), early-stopped on ``holdout``.

    ``parameters``: the ones to move (default all), e.g. everything but the embeddings. Returns the
    number of epochs run; the weights of the best holdout loss are loaded back.
    """
    s = {**TRAINING_DEFAULTS, **settings}
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout draws from the global generator
    z, slots = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)), torch.from_numpy(slots)
    target = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(len(z), -1))
    known = ~torch.isnan(target)
    target = torch.nan_to_num(target)
    train_rows, holdout_rows = torch.from_numpy(train), torch.from_numpy(holdout)

    def loss(rows):
        error = (network(z[rows], slots[rows]) - target[rows]) ** 2
        return error[known[rows]].mean()

    optimizer = torch.optim.AdamW(network.parameters() if parameters is None else parameters,
                                  lr=s["learning_rate"], weight_decay=s["weight_decay"])
    best, best_state, stale, epoch = np.inf, None, 0, 0
    for epoch in range(1, s["max_epochs"] + 1):
        network.train()
        for batch in train_rows[torch.randperm(len(train_rows), generator=generator)].split(s["batch_size"]):
            if len(batch) < 2:
                continue  # batch-norm needs two rows
            optimizer.zero_grad()
            loss(batch).backward()
            optimizer.step()
        network.eval()
        with torch.no_grad():
            score = float(loss(holdout_rows))
        if score < best - 1e-6:
            best, best_state, stale = score, {k: v.clone() for k, v in network.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= s["patience"]:
                break
    network.load_state_dict(best_state)
    network.eval()
    return epoch


def non_embedding_parameters(network: EntityNet) -> list[nn.Parameter]:
    """Everything but the entity vectors: what fine-tuning moves when the embeddings stay frozen."""
    embedded = {id(p) for p in network.embeddings.parameters()}
    return [p for p in network.parameters() if id(p) not in embedded]
