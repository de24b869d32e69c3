"""What a loader fixed or dropped, with counts: dirty rows are reported, never hidden."""

from dataclasses import dataclass, field


@dataclass
class CleaningReport:
    """An ordered log of ``(column, what happened, count)``; zero counts are not recorded."""

    origin: str
    entries: list[tuple[str, str, int]] = field(default_factory=list)

    def note(self, column: str, what: str, count: int) -> None:
        if count:
            self.entries.append((column, what, int(count)))

    def count(self, column: str, what_prefix: str = "") -> int:
        return sum(n for c, w, n in self.entries if c == column and w.startswith(what_prefix))

    def lines(self) -> list[str]:
        if not self.entries:
            return [f"{self.origin}: nothing to fix"]
        return [f"{self.origin}: {column}: {what}: {n:,}" for column, what, n in self.entries]

    def __str__(self) -> str:
        return "\n".join(self.lines())
