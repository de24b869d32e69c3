"""The canonical film table: one row per film, the same columns whatever the source.

List-valued columns hold ``|``-joined strings ("Drama|Comedy") so a table survives a CSV
round trip untouched. Targets are known only after release and must never become features.
"""

LIST_SEPARATOR = "|"

ID = "id"
TITLE = "title"
RELEASE_DATE = "release_date"
YEAR = "year"

LIST_COLUMNS = ("director", "cast", "writers", "genres", "companies", "countries", "language", "keywords")
TEXT_COLUMNS = (ID, TITLE, "mpaa") + LIST_COLUMNS
INPUT_NUMBER_COLUMNS = ("runtime", "budget")
TARGET_COLUMNS = ("rating", "votes", "revenue")
MONEY_COLUMNS = ("budget", "revenue")
NUMBER_COLUMNS = INPUT_NUMBER_COLUMNS + TARGET_COLUMNS

CANONICAL_COLUMNS = (
    ID, TITLE, RELEASE_DATE, YEAR,
    "director", "cast", "writers", "genres", "companies", "countries", "language", "keywords", "mpaa",
    "runtime", "budget",
    "rating", "votes", "revenue",
)

# US ratings as they stand today; legacy labels map onto their successors.
MPAA_LABELS = ("G", "PG", "PG-13", "R", "NC-17", "NR")
MPAA_LEGACY = {
    "M": "PG", "GP": "PG", "M/PG": "PG", "X": "NC-17",
    "NOT RATED": "NR", "UNRATED": "NR", "UNRATED ": "NR", "APPROVED": "NR", "PASSED": "NR",
}
