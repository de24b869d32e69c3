"""Film tables from any source into one canonical, validated frame."""

from pel_torch.data.report import CleaningReport
from pel_torch.data.sources import SOURCES, load_films
from pel_torch.data.summary import summarize
from pel_torch.data.writing import write_table

__all__ = ["SOURCES", "CleaningReport", "load_films", "summarize", "write_table"]
