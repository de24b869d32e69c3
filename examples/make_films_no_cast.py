"""Write examples/films_no_cast.csv: a film table shaped like a studio's own, cut from the embedded CC0 Wikidata films.

    python examples/make_films_no_cast.py

Like the table users bring (issue 8): the films with box office, and only the columns title,
release date, director, genres, companies, MPAA rating, runtime, revenue and rating. No cast,
writers, review counts, countries or languages; ratings on almost every film, so rated films are
hardly more plentiful than box-office films.
"""

from pathlib import Path

from pel_torch.data import load_films, write_table

COLUMNS = ["title", "release_date", "year", "director", "genres", "companies", "mpaa", "runtime", "revenue", "rating"]


def main() -> None:
    films, _ = load_films("wikidata")
    table = films.loc[films["revenue"].notna(), COLUMNS].reset_index(drop=True)
    path = write_table(table, Path(__file__).with_name("films_no_cast.csv"), overwrite=True)
    print(f"wrote {len(table):,} films, {table['rating'].notna().sum():,} rated, to {path}")


if __name__ == "__main__":
    main()
