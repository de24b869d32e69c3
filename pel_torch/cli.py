"""Shared by the Hydra entry points: user errors become one line and exit code 2."""

import functools
import sys

from pel_torch.errors import PelError
from pel_torch.tasks import available_tasks


def exits_cleanly(task):
    @functools.wraps(task)
    def run(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except PelError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return run


def check_task_choice(argv: list[str]) -> None:
    """Refuse an unknown ``task=`` in one line before Hydra does (it answers with a page and exit code 1)."""
    for argument in argv[1:]:
        key, sep, value = argument.partition("=")
        if sep and key.lstrip("+~") == "task" and value not in available_tasks():
            print(f"error: unknown task '{value}'; choose one of: {', '.join(available_tasks())}", file=sys.stderr)
            sys.exit(2)
