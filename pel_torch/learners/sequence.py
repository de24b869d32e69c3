"""Sequence models over what the user rated before: an LSTM and a 1-D CNN, then the film to score.

Read the ``item`` and ``history`` input groups: the film's index, then the user's last k ratings
before this one, oldest first, as three blocks of k columns (film indices, ratings minus the
training mean, log1p days since). Each step is the film's embedding, its rating, the time gap
and whether the step exists (users with fewer than k ratings are padded with zeros in front).
The summary of the steps and the film's own embedding go through a small MLP.
"""

import torch
from torch import nn

from pel_torch.learners.matrix_factorization import id_embedding, known
from pel_torch.learners.precision import FixedPrecision
from pel_torch.learners.torch_learner import TRAINING, TorchLearner

ENCODERS = ("lstm", "cnn")


class SequenceRegressor(FixedPrecision):
    """``(batch, n_inputs)`` -> ``(batch,)``; the last ``1 + 3 * length`` columns are the film and the history."""

    def __init__(self, n_items: int, length: int, encoder: str = "lstm", dim: int = 32, hidden: int = 64):
        super().__init__()
        self.n_items, self.length, self.encoder_kind, self.dim, self.hidden = n_items, length, encoder, dim, hidden
        self.items = id_embedding(n_items, dim, 0.05)
        width = dim + 3
        if encoder == "lstm":
            self.encoder = nn.LSTM(width, hidden, batch_first=True)
        else:
            self.encoder = nn.Sequential(nn.Conv1d(width, hidden, kernel_size=3, padding=1), nn.ReLU(),
                                         nn.Conv1d(hidden, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(hidden + dim, 64), nn.ReLU(), nn.Linear(64, 1))

    def spec(self) -> dict:
        return {"n_items": self.n_items, "length": self.length, "encoder": self.encoder_kind, "dim": self.dim, "hidden": self.hidden}

    def embeddings(self) -> dict[str, torch.Tensor]:
        return {"item": self.items.weight}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.length
        history = x[:, -3 * k:].float()                                   # (batch, 3k)
        steps_items = known(history[:, :k], self.n_items)
        present = (steps_items > 0).float()                                # (batch, k)
        steps = torch.cat([self.items(steps_items), history[:, k:2 * k, None], history[:, 2 * k:, None], present[..., None]], dim=2)
        summary = self._summary(steps, present)                           # (batch, hidden)
        film = self.items(known(x[:, -3 * k - 1], self.n_items))           # (batch, dim)
        return self.head(torch.cat([summary, film], dim=1)).squeeze(1)

    def _summary(self, steps: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        if self.encoder_kind == "lstm":
            _, (state, _) = self.encoder(steps)                           # the newest step comes last
            return state[-1]
        features = self.encoder(steps.transpose(1, 2))                    # (batch, hidden, k)
        mask = present.unsqueeze(1)
        return (features * mask).sum(dim=2) / mask.sum(dim=2).clamp_min(1.0)


class SequenceLearner(TorchLearner):
    name = "lstm"
    inputs = ("item", "history")
    encoder = "lstm"
    DEFAULTS = {**TRAINING, "dim": 32, "hidden": 64}

    def build(self, X, y):
        length = self.sizes_["history"]
        return SequenceRegressor(self.sizes_["item"], length, self.encoder, self.settings["dim"], self.settings["hidden"])


class ConvolutionLearner(SequenceLearner):
    name = "cnn"
    encoder = "cnn"
