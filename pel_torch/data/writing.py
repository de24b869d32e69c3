"""Write a canonical table atomically: a crash or a bad path never leaves half a file."""

from pathlib import Path

import pandas as pd

from pel_torch.atomic import atomic_output, check_new_output
from pel_torch.errors import DataError


def write_table(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``frame`` to ``path`` (.csv or .parquet); refuse to replace a file unless ``overwrite``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise DataError(f"{path}: unsupported output type '{path.suffix}'; use .csv or .parquet")
    check_new_output(path, overwrite=overwrite, how_to_overwrite="pass overwrite=true / --overwrite")
    with atomic_output(path) as temporary:
        if suffix == ".csv":
            frame.to_csv(temporary, index=False, date_format="%Y-%m-%d")
        else:
            frame.to_parquet(temporary, index=False)
    return path
