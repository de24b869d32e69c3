"""How much each genre will be watched in the coming periods (``task=genre_volume``): a forecasting task."""

from pel_torch.tasks.genre_volume.task import GenreVolumeTask

__all__ = ["GenreVolumeTask"]
