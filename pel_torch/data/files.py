"""Read one CSV or Parquet file, whole or in chunks, turning every way it can fail into a one-line DataError."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pel_torch.errors import DataError

READERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, *, what: str = "film table", required: tuple[str, ...] = (), hint: str = "") -> pd.DataFrame:
    """Read ``path`` (CSV or Parquet) as strings-or-numbers, checking ``required`` columns.

    ``what`` and ``hint`` name the expected file in messages, e.g. a Kaggle file given to the wrong loader.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path ({what} expected)")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give the {what} file itself")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty; expected a {what} with a header row")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            # Strings stay strings: ids like "007" and dates are interpreted later, by policy.
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str, keep_default_na=False, na_values=[""], low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: cannot be read as {kind} ({first_line}); is it really a {what}?") from None
    if frame.empty and len(frame.columns) == 0:
        raise DataError(f"{path}: file is empty; expected a {what} with a header row")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; {hint or f'this does not look like a {what}'}"
        )
    return frame


def read_chunks(path: Path, size: int, *, what: str = "table") -> Iterator[pd.DataFrame]:
    """The file's rows ``size`` at a time, as strings (CSV) or the file's own types (Parquet)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; check predict.input")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield batch.to_pandas()
    elif suffix == ".csv":
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty; expected a {what} with a header row")
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=size)
    else:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; use .csv or .parquet")
