"""Leakage-free features from the canonical film table."""

from pel_torch.features.featurizer import FilmFeaturizer
from pel_torch.features.targets import target_values

__all__ = ["FilmFeaturizer", "target_values"]
