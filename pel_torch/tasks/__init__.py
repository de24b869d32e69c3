"""Tasks plug into the engine (``pel_torch.tasks.base.Task``); each one is an option of the Hydra group ``task=``."""

from importlib import resources


def available_tasks() -> list[str]:
    """The options of the ``task`` config group, i.e. the tasks a user can choose."""
    return sorted(entry.name.removesuffix(".yaml") for entry in resources.files("pel_torch.configs").joinpath("task").iterdir()
                  if entry.name.endswith(".yaml"))
