"""Statistical forecasters on the Tourism competition and on the genre-volume demo: the protocol proven on published numbers.

    python benchmarks/forecast_statistical.py --json docs/forecast_statistical.json

Tourism is scored once on the competition's own test part (monthly h=24, quarterly h=8, yearly
h=4); the genre series (ratings per genre of the embedded MovieLens-100K) by rolling origin: daily
4 windows of 14 days, weekly 3 windows of 4 weeks. The published MAPE of the Tourism paper
(their implementations and runs) is printed beside ours: if our seasonal naive matches it, the
data, the split and the metric are the competition's.
"""

import argparse
import time

from common import write_report
from pel_torch.data.tourism import PUBLISHED_MAPE, load_tourism
from pel_torch.forecasting.backtest import evaluate
from pel_torch.forecasting.ets import ets
from pel_torch.forecasting.statistical import naive, seasonal_naive, theta
from pel_torch.tasks.genre_volume.data import genre_panel

FORECASTERS = {"naive": lambda y, period, h: naive(y, h), "seasonal_naive": seasonal_naive, "theta": theta, "ets": ets}
PUBLISHED_NAMES = {"seasonal_naive": "seasonal naive", "theta": "Theta", "ets": "ETS"}
GENRES = {"genres_daily": ("D", 14, 4), "genres_weekly": ("W", 4, 3)}


def datasets():
    for kind in ("monthly", "quarterly", "yearly"):
        panel, horizon = load_tourism(kind)
        yield f"tourism_{kind}", panel, horizon, 1
    for name, (freq, horizon, n_windows) in GENRES.items():
        yield name, genre_panel(freq), horizon, n_windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    started, results = time.perf_counter(), {}
    for name, panel, horizon, n_windows in datasets():
        print(f"\n{name}: {panel.describe()}, horizon {horizon}, {n_windows} window(s)")
        print(f"{'model':<16} {'MAPE':>7} {'sMAPE':>7} {'MASE':>6} {'RMSE':>10} {'cover80':>7}  published MAPE (theirs)")
        published = PUBLISHED_MAPE.get(name.removeprefix("tourism_"), {})
        results[name] = {}
        for model, forecaster in FORECASTERS.items():
            row = results[name][model] = evaluate(panel, forecaster, horizon, n_windows)
            theirs = published.get(PUBLISHED_NAMES.get(model, ""), "")
            print(f"{model:<16} {row['mape']:7.2f} {row['smape']:7.2f} {row['mase']:6.3f} {row['rmse']:10.1f} "
                  f"{row['coverage80']:7.3f}  {theirs}")
        if published:
            print("published, their runs: " + "; ".join(f"{k} {v}" for k, v in published.items()))
    if args.json:
        write_report(args.json, "forecast_statistical.py", started, results=results, published_mape=PUBLISHED_MAPE)


if __name__ == "__main__":
    main()
