"""How each user will rate a film (``task=ratings``): MovieLens by default."""

from pel_torch.tasks.ratings.task import RatingsTask

__all__ = ["RatingsTask"]
