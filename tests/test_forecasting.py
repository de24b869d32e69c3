"""Forecasting foundations: competition metrics, statistical forecasters, panels from users' files, rolling origins."""

import numpy as np
import pandas as pd
import pytest

from pel_torch.data.panels import from_events, read_event_log, read_long_panel
from pel_torch.data.tourism import PUBLISHED_MAPE, load_tourism
from pel_torch.errors import DataError
from pel_torch.forecasting.backtest import evaluate, windows
from pel_torch.forecasting.ets import ExponentialSmoothing, ets, fit, forecast_from
from pel_torch.forecasting.metrics import mase_scale, panel_errors, series_errors
from pel_torch.forecasting.statistical import seasonal_naive, theta


def test_metrics_by_hand():
    history = np.array([1.0, 2.0, 3.0, 5.0])          # lag-2 differences 2 and 3: MASE scale 2.5
    assert mase_scale(history, 2) == pytest.approx(2.5)
    errors = series_errors(actual=np.array([4.0, 0.0]), forecast=np.array([2.0, 1.0]), scale=mase_scale(history, 2))
    assert errors["mape"] == pytest.approx(50.0)            # the zero actual is left out
    assert errors["smape"] == pytest.approx((200 * 2 / 6 + 200 * 1 / 1) / 2)
    assert errors["mase"] == pytest.approx(1.5 / 2.5) and errors["rmse"] == pytest.approx(np.sqrt(2.5))
    assert panel_errors([history, history], [np.array([0.0])] * 2, [np.array([1.0])] * 2, 2)["mape_series"] == 0


def test_seasonal_naive_repeats_the_last_season_and_names_its_fallback():
    forecast = seasonal_naive(np.arange(1.0, 9.0), period=4, horizon=6)
    assert forecast.mean.tolist() == [5, 6, 7, 8, 5, 6] and forecast.method == "seasonal_naive"
    assert (forecast.p90 - forecast.mean)[4] > (forecast.p90 - forecast.mean)[0] > 0   # a season further, a wider interval
    short = seasonal_naive(np.array([3.0, 4.0]), period=12, horizon=2)
    assert short.mean.tolist() == [4, 4] and short.method == "naive"
    assert theta(np.array([1.0, 2.0]), 4, 3).method == "naive (theta needs 4 points, the series has 2)"


def test_theta_recovers_a_multiplicative_season_and_halves_the_trend():
    season = np.array([0.6, 0.8, 1.0, 1.4, 1.2, 1.0] * 2)
    y = 100 * np.tile(season, 6)
    assert np.allclose(theta(y, 12, 12).mean, 100 * season, rtol=1e-3)
    line = np.arange(40.0)
    assert np.allclose(np.diff(theta(line, 1, 5).mean), 0.5, atol=1e-3)   # the theta line's drift is half the slope


def test_ets_chooses_the_season_the_series_has_and_forecasts_it():
    rng = np.random.default_rng(0)
    season = np.array([0.6, 0.8, 1.0, 1.4, 1.2, 1.0] * 2)
    t = np.arange(72)
    multiplicative = (100 + 0.5 * t) * np.tile(season, 6) * (1 + 0.01 * rng.normal(size=72))
    model = fit(multiplicative, 12)
    assert model.form in ("ANM", "AAdM") and model.kind == 2
    future = (100 + 0.5 * np.arange(72, 84)) * season
    assert np.abs(ets(multiplicative, 12, 12).mean / future - 1).max() < 0.05
    flat = 50 + rng.normal(size=40)
    assert fit(flat, 1).form == "ANN"                        # no trend, no season: the simplest form wins on AICc
    forecast = ets(flat, 1, 6)
    assert np.ptp(forecast.mean) < 1e-9 and (forecast.p90 - forecast.mean)[5] > (forecast.p90 - forecast.mean)[0] > 0
    assert ets(np.array([1.0, 2.0]), 4, 2).method == "naive (ets could not fit 2 points)"


def test_ets_over_origins_keeps_the_first_origins_fit_and_runs_its_states_on():
    rng = np.random.default_rng(1)
    y = 100 + np.cumsum(rng.normal(size=60))
    many = ExponentialSmoothing()
    first, later = many("s", y[:40], 1, 3), many("s", y[:50], 1, 3)
    np.testing.assert_allclose(first.mean, ets(y[:40], 1, 3).mean)                     # the first origin: a fit there
    np.testing.assert_allclose(later.mean, forecast_from(fit(y[:40], 1), y[:50], 3).mean)   # a later one: that fit, run on
    assert not np.allclose(later.mean, first.mean)


@pytest.mark.parametrize("kind", ["monthly", "quarterly"])
def test_tourism_seasonal_naive_reproduces_the_competitions_mape(kind):
    panel, horizon = load_tourism(kind)
    assert len(panel) == {"monthly": 366, "quarterly": 427}[kind] and horizon == {"monthly": 24, "quarterly": 8}[kind]
    result = evaluate(panel, seasonal_naive, horizon)
    assert result["mape"] == pytest.approx(PUBLISHED_MAPE[kind]["seasonal naive"], abs=0.05)


def test_events_count_once_per_category_and_empty_periods_are_counted_zeros():
    events = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"]), "item": ["a", "b", "a"],
                           "categories": ["Drama|Comedy", "Drama", "Comedy"]})
    panel = from_events(events, "D", "events")
    assert panel.ids == ["Comedy", "Drama"] and [v.tolist() for v in panel.values] == [[1, 0, 1], [2, 0, 0]]
    assert panel.report.count("value") == 3 and panel.period == 7


def test_long_panel_interpolates_gaps_and_refuses_bad_rows(tmp_path):
    path = tmp_path / "panel.csv"
    path.write_text("series_id,date,value\nx,2024-01-01,1\nx,2024-03-01,3\ny,2024-01-01,5\n")
    panel = read_long_panel(path, "M")
    assert [v.tolist() for v in panel.values] == [[1, 2, 3], [5]] and panel.report.count("value") == 1
    cases = {"series_id,date,value\nx,2024-01-01,-2\n": "value -2 of series x on 2024-01-01 is negative",
             "series_id,date,value\nx,2024-01-01,1\nx,2024-01-20,2\n": "series x has 2 rows sharing a M period, the first on 2024-01",
             "series_id,date,value\nx,someday,1\n": "date 'someday' of series x \\(row 0\\) does not parse",
             "series_id,date,value\nx,2024-01-01,lots\n": "value 'lots' of series x \\(row 0\\) is not a number",
             "": "file is empty", "series,when\n": "missing column\\(s\\) series_id, date, value"}
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(DataError, match=message):
            read_long_panel(path, "M")
    with pytest.raises(DataError, match="freq=H: unknown frequency; choose one of D, W, M, Q, Y"):
        read_long_panel(path, "H")


def test_event_log_with_a_column_mapping(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("when,film,genre,n\n1704067200,a,Drama,2\n2024-01-08,b,Drama,1\n")
    panel = read_event_log(path, "W", {"timestamp": "when", "item": "film", "categories": "genre", "count": "n"})
    assert panel.ids == ["Drama"] and panel.values[0].tolist() == [2, 1]
    path.write_text("when,film,genre,n\n1704067200,a,Drama,-1\n")
    with pytest.raises(DataError, match="count -1 in row 0 is negative"):
        read_event_log(path, "W", {"timestamp": "when", "item": "film", "categories": "genre", "count": "n"})


def test_rolling_windows_tile_the_end_of_each_series():
    panel = from_events(pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=20, freq="D"), "item": "a"}), "D", "x")
    cuts = windows(panel, horizon=3, n_windows=2)
    assert [len(h[0]) for h, _ in cuts] == [14, 17] and [len(a[0]) for _, a in cuts] == [3, 3]
    with pytest.raises(DataError, match="the shortest series has 20 periods: too few for 7 windows of 3"):
        windows(panel, horizon=3, n_windows=7)
