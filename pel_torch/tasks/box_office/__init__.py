"""Box office before release: P-EL on films (``task=box_office``, the default)."""

from pel_torch.tasks.box_office.task import BoxOfficeTask

__all__ = ["BoxOfficeTask"]
