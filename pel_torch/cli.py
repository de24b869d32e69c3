"""Shared by the Hydra entry points: user errors become one line and exit code 2."""

import functools
import sys

from pel_torch.errors import PelError


def exits_cleanly(task):
    @functools.wraps(task)
    def run(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except PelError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return run
