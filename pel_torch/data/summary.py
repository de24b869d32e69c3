"""A human and a JSON summary of a canonical film table."""

import pandas as pd

from pel_torch.data import schema


def summarize(frame: pd.DataFrame) -> dict:
    """Counts, date range and the missing share of every canonical column."""
    years = frame[schema.YEAR].dropna()
    dates = frame[schema.RELEASE_DATE].dropna()
    return {
        "films": int(len(frame)),
        "with_rating": int(frame["rating"].notna().sum()),
        "with_votes": int(frame["votes"].notna().sum()),
        "with_revenue": int(frame["revenue"].notna().sum()),
        "with_budget": int(frame["budget"].notna().sum()),
        "first_year": int(years.min()) if len(years) else None,
        "last_year": int(years.max()) if len(years) else None,
        "first_date": dates.min().date().isoformat() if len(dates) else None,
        "last_date": dates.max().date().isoformat() if len(dates) else None,
        "missing_share": {column: round(float(frame[column].isna().mean()), 4) if len(frame) else 1.0
                          for column in schema.CANONICAL_COLUMNS},
    }


def format_summary(summary: dict) -> str:
    lines = [
        f"films          {summary['films']:>8,}",
        f"with rating    {summary['with_rating']:>8,}",
        f"with votes     {summary['with_votes']:>8,}",
        f"with revenue   {summary['with_revenue']:>8,}",
        f"with budget    {summary['with_budget']:>8,}",
        f"years          {summary['first_year']} .. {summary['last_year']}",
        f"exact dates    {summary['first_date']} .. {summary['last_date']}",
        "missing share per column:",
    ]
    lines += [f"  {column:<13} {share:>6.1%}" for column, share in summary["missing_share"].items()]
    return "\n".join(lines)
