"""``python -m pel_torch.data SOURCE [PATH ...]``: inspect a film source, optionally write its canonical table."""

import argparse
import json
import sys

from pel_torch.data.sources import SOURCES, load_films
from pel_torch.data.summary import format_summary, summarize
from pel_torch.data.writing import write_table
from pel_torch.errors import PelError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pel_torch.data", description=__doc__)
    parser.add_argument("source", choices=sorted(SOURCES), help="where the films come from")
    parser.add_argument("paths", nargs="*", help="the source's files (none for the embedded wikidata)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--out", help="write the canonical table to this .csv or .parquet file")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--map", action="append", default=[], metavar="CANONICAL=COLUMN",
                        help="csv source: take a canonical column from the file's own column (repeatable)")
    args = parser.parse_args(argv)
    try:
        options = {"columns": _parse_mapping(args.map)} if args.map else {}
        frame, report = load_films(args.source, *args.paths, **options)
        print(report, file=sys.stderr)
        summary = summarize(frame)
        print(json.dumps(summary) if args.json else format_summary(summary))
        if args.out:
            written = write_table(frame, args.out, overwrite=args.overwrite)
            print(f"wrote {len(frame):,} films to {written}", file=sys.stderr)
    except PelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        canonical, sep, own = pair.partition("=")
        if not sep or not canonical or not own:
            raise PelError(f"--map {pair!r}: expected CANONICAL=COLUMN, e.g. --map revenue=Gross")
        mapping[canonical.strip()] = own.strip()
    return mapping


if __name__ == "__main__":
    sys.exit(main())
