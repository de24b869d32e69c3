"""Write files all at once or not at all: a crash or an error never leaves half a file behind."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pel_torch.errors import DataError


def check_new_output(path: Path, *, overwrite: bool, how_to_overwrite: str = "pass overwrite=true") -> None:
    """Refuse, in one line, to replace an existing file (unless ``overwrite``) or to write into a missing folder."""
    if path.exists() and not overwrite:
        raise DataError(f"{path}: already exists; choose another path or {how_to_overwrite}")
    if not path.parent.exists():
        raise DataError(f"{path.parent}: folder does not exist; create it first")


@contextmanager
def atomic_output(path: Path) -> Iterator[str]:
    """Yields a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private (0600); a written file gets the usual mode
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
