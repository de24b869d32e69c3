from pathlib import Path

import pytest

from pel_torch.data import load_films

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def wikidata():
    frame, report = load_films("wikidata")
    return frame, report


@pytest.fixture
def films(wikidata):
    return wikidata[0].copy()
