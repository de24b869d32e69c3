"""A global forecaster in the spirit of N-BEATS (Oreshkin et al. 2020): residual blocks of fully connected layers.

It reads the last ``lags + horizon`` columns of its input: the window (scaled by the series, oldest
first), then the one-hot step ahead (standardised, as the stack feeds every learner). Each block maps what is left of the window to a backcast,
taken off the window before the next block, and to a forecast of every step; the forecasts add up,
and a row's prediction is the one at its step. These are the paper's generic blocks, one network:
not its interpretable trend and seasonality stacks, nor its ensemble of 180 networks.
"""

import torch
from torch import nn

from pel_torch.learners.precision import FixedPrecision
from pel_torch.learners.torch_learner import TRAINING, TorchLearner


class Block(nn.Module):
    def __init__(self, lags: int, horizon: int, width: int, depth: int):
        super().__init__()
        layers, size = [], lags
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        self.body = nn.Sequential(*layers)
        self.backcast = nn.Linear(width, lags)
        self.forecast = nn.Linear(width, horizon)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(window)
        return self.backcast(hidden), self.forecast(hidden)


class NBeats(FixedPrecision):
    """``(batch, n_inputs)`` -> ``(batch,)``; the last ``lags + horizon`` columns are the window and the step."""

    def __init__(self, lags: int, horizon: int, blocks: int = 3, width: int = 256, depth: int = 4):
        super().__init__()
        self.lags, self.horizon, self.width, self.depth = lags, horizon, width, depth
        self.blocks = nn.ModuleList(Block(lags, horizon, width, depth) for _ in range(blocks))

    def spec(self) -> dict:
        return {"lags": self.lags, "horizon": self.horizon, "blocks": len(self.blocks), "width": self.width, "depth": self.depth}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        residual, step = x[:, -(self.lags + self.horizon):-self.horizon], x[:, -self.horizon:]
        forecast = torch.zeros_like(step)
        for block in self.blocks:
            backcast, block_forecast = block(residual)
            residual = residual - backcast
            forecast = forecast + block_forecast
        # the step columns arrive standardised, the one that is set still the largest
        return forecast.gather(1, step.argmax(dim=1, keepdim=True)).squeeze(1)


class NBeatsLearner(TorchLearner):
    name = "nbeats"
    inputs = ("window", "step")
    DEFAULTS = {**TRAINING, "blocks": 3, "width": 256, "depth": 4, "learning_rate": 1e-3, "max_epochs": 40}

    def build(self, X, y):
        s = self.settings
        return NBeats(self.sizes_["lags"], self.sizes_["horizon"], s["blocks"], s["width"], s["depth"])
