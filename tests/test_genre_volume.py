"""The genre-volume task: forecast rows that never look ahead, splits that never overlap, the stages end to end."""

import shlex

import numpy as np
import pandas as pd
import pytest

from conftest import config
from pel_torch.checkpoint import load_checkpoint, reusable_checkpoint
from pel_torch.errors import DataError, PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.inference import learner_predictions
from pel_torch.stages import finetune, pretrain, scratch
from pel_torch.tasks.genre_volume import GenreVolumeTask
from pel_torch.tasks.genre_volume.windows import STATE_VERSION, WindowInputs, forecast_rows

TINY = ["task=genre_volume", "data=long_panel", "freq=M", "horizon=4", "lags=6", "split.max_origins=6", "split.val_origins=2",
        "stack.n_folds=2", "stack.layers=[[seasonal_naive,theta,lightgbm,nbeats,window_lstm]]", "++stack.learners.lightgbm.n_estimators=20",
        "++stack.learners.window_lstm.max_epochs=1", "++stack.learners.window_lstm.hidden=[8,4]", "++stack.learners.nbeats.max_epochs=1",
        "++stack.learners.nbeats.width=8"]


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory):
    """Six monthly series, 40 months each, seasonal with a trend and noise."""
    rng = np.random.default_rng(0)
    months = pd.period_range("2020-01", periods=40, freq="M")
    rows = [(f"genre{i}", str(month), 100 * (i + 1) * (1 + 0.3 * np.sin(2 * np.pi * k / 12)) + 2 * k + rng.normal(0, 5))
            for i in range(6) for k, month in enumerate(months)]
    path = tmp_path_factory.mktemp("panel") / "panel.csv"
    pd.DataFrame(rows, columns=["series_id", "date", "value"]).to_csv(path, index=False)
    return path


def test_rows_read_only_values_before_their_origin():
    values = np.arange(1.0, 31.0)
    table, raw = forecast_rows(["s"], [values], [None], [[10, 20]], "train", period=4, horizon=3, lags=5, progress=False)
    first = table.index[(table["origin"] == 10) & (table["step"] == 1)][0]
    scale = table.loc[first, "scale"]
    assert scale == pytest.approx(np.mean(values[5:10]))
    assert np.expm1(raw[first, :5]) * scale == pytest.approx(values[5:10])  # the window ends just before the origin, in log1p
    assert table.loc[table["origin"] == 10, "actual"].tolist() == [11.0, 12.0, 13.0]
    assert table.loc[table["origin"] == 20, "seasonal_naive"].tolist() == [17.0, 18.0, 19.0]


def test_scratch_and_evaluate_on_a_long_panel(panel_file, tmp_path):
    task = GenreVolumeTask()
    cfg = config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "stage=scratch")
    prepared = task.prepare(cfg)
    table, split = prepared.table, prepared.split
    # no training target reaches a validation origin; the test origin is each series' held-out start
    first_val = table.iloc[split.val].groupby("series")["origin"].min()
    reach = (table.iloc[split.train]["origin"] + table.iloc[split.train]["step"] - 1).groupby(table.iloc[split.train]["series"]).max()
    assert (reach < first_val).all() and (table.iloc[split.test]["origin"] == 36).all()
    # the refit's rows are the latest 6 origins whose targets are all known: up to the last known month, never the test's
    refit = table.iloc[split.refit]
    assert refit["origin"].groupby(refit["series"]).agg(["min", "max"]).values.tolist() == [[27, 32]] * 6
    assert (refit["origin"] + refit["step"] - 1).max() == 35 and refit["actual"].notna().all()
    assert prepared.times is None   # network_holdout=random: the networks stop early on a random tenth
    latest = task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "stage=scratch", "network_holdout=latest"))
    # each row's target period counted back from its series' test origin: the last training target is 6 periods before it
    trained = latest.table.iloc[latest.split.train]
    assert (latest.times_of(latest.split.train) == trained["origin"] + trained["step"] - 1 - 36).all()
    assert latest.times_of(latest.split.train).max() == -6 and (latest.times_of(latest.split.refit) < 0).all()
    result = scratch(cfg, prepared)
    checkpoint = load_checkpoint(result.checkpoint, task)
    stack = checkpoint.model.member("scratch").stack
    assert stack.layers[0].names == ["seasonal_naive", "theta", "lightgbm", "nbeats", "window_lstm"]
    assert stack.head.weights.shape == (4, 5)    # the forecast stack's head: one set of weights per step ahead, read back
    assert [len(bagged.folds) for bagged in stack.layers[0].learners] == [2] * 5   # refitted bagged, as first fitted
    # The head was chosen on validation predictions of members fitted before the refit; the checkpoint keeps them, and
    # the refitted head over them gives the kept prediction back. The refitted lightgbm has seen those targets.
    held_out = checkpoint.held_out
    members = np.column_stack([held_out[f"layer 1 {name}"] for name in stack.layers[0].names])
    weights = stack.head.normalised_weights().detach().numpy()[table.iloc[split.val]["step"].to_numpy() - 1]
    assert (members * weights).sum(axis=1) == pytest.approx(held_out["model"])
    refitted = learner_predictions(checkpoint.model.member("scratch"), prepared.raw[split.val])["layer 1 lightgbm"]
    assert len(held_out["model"]) == len(split.val) and not np.allclose(refitted, held_out["layer 1 lightgbm"])
    assert result.metrics["val/mse"] == pytest.approx(np.mean((held_out["model"] - np.log1p(table.iloc[split.val]["actual"] / table.iloc[split.val]["scale"])) ** 2))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = [EventAccumulator(str(p.parent)).Reload() for p in tmp_path.rglob("events.out.tfevents.*")]
    assert any("scratch/validation_forecasts" in run.Tags()["images"] for run in runs)   # the validation forecasts, drawn
    metrics = evaluate_checkpoint(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", name="evaluate"), task, checkpoint)
    assert metrics["test/windows"] == 6 and 0 < metrics["test/mape"] < 30 and 0 < metrics["test/mase"] < 5
    # Past the data's end: four months per series after 2023-04, an interval around each, a figure per series and a grid.
    output = tmp_path / "forecast.csv"
    lines = task.forecast(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", f"forecast.output={output}", name="evaluate"), checkpoint)
    forecast = pd.read_csv(output)
    assert list(forecast.columns) == ["series_id", "date", "p10", "p50", "p90"] and len(forecast) == 24
    assert forecast.loc[forecast["series_id"] == "genre0", "date"].tolist() == ["2023-05", "2023-06", "2023-07", "2023-08"]
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all() and forecast["p50"].between(50, 1000).all()
    assert sorted(p.name for p in (tmp_path / "forecast_figures").iterdir()) == ["all_series.png", *[f"genre{i}.png" for i in range(6)]]
    assert lines[0].startswith("wrote 24 forecasts (6 series x 4 periods)")
    # A report reuses this fit only while the inputs are built as it was fitted with; an older layout is refused in one line.
    assert reusable_checkpoint(cfg, task, "scratch") == result.checkpoint
    older = GenreVolumeTask()
    older.input_version = STATE_VERSION - 1
    assert reusable_checkpoint(cfg, older, "scratch") is None
    arrays, spec = checkpoint.inputs.state()
    with pytest.raises(PelError, match=f"forecast inputs of version {STATE_VERSION - 1}, this pel_torch builds version {STATE_VERSION}"):
        WindowInputs.from_state(arrays, {**spec, "version": STATE_VERSION - 1})


def test_bad_panels_and_settings_are_one_line(panel_file, tmp_path):
    task = GenreVolumeTask()
    with pytest.raises(DataError, match="series genre0 has 40 periods \\(6 series are that short\\)"):
        task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "horizon=20"))
    earlier = task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "split.test_offset=4", "split.refit=once", "stage=scratch"))   # the window before the last
    assert earlier.split.refit_once and len(earlier.split.refit)   # once: the last layer refitted unbagged (StackedEnsemble.refit)
    test = earlier.table.iloc[earlier.split.test]
    assert (test["origin"] == 32).all() and test["actual"].notna().all()
    assert earlier.table["origin"].add(earlier.table["step"]).max() <= 37          # nothing after month 36 is read
    saved_before_once = task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "split.refit=true", "stage=scratch"))
    assert len(saved_before_once.split.refit) and not saved_before_once.split.refit_once   # such checkpoints still evaluate: bagged
    with pytest.raises(DataError, match="split.refit=no: give bagged, once or false"):   # "no" is a true string
        task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "split.refit=no", "stage=scratch"))
    with pytest.raises(DataError, match="network_holdout=last: give latest or random \\(the training rows the networks stop early on\\)"):
        task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "network_holdout=last", "stage=scratch"))
    with pytest.raises(DataError, match="split.test_offset=-3: give a whole number of periods, 0 or more"):
        task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "split.test_offset=-3", "stage=scratch"))
    with pytest.raises(DataError, match="after split.test_offset=30 need at least 42; lower horizon= or split.test_offset= or leave"):
        task.prepare(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "split.test_offset=30", "stage=scratch"))
    with pytest.raises(DataError, match="split.test_offset=8: Tourism is scored on the competition's held-out values"):
        task.prepare(config(tmp_path, *TINY, "data=tourism_quarterly", "horizon=8", "split.test_offset=8", "stage=scratch"))
    with pytest.raises(DataError, match="horizon=4: Tourism quarterly is scored at the competition's horizon, 8"):
        task.prepare(config(tmp_path, *TINY, "data=tourism_quarterly", "horizon=4", "stage=scratch"))
    with pytest.raises(DataError, match="pretrain.series names tourism_quarterly, the data being forecast: pretrain on other series"):
        pretrain(config(tmp_path, *TINY, "data=tourism_quarterly", "horizon=8", "stage=pretrain", "pretrain.series=[tourism_quarterly]"))
    with pytest.raises(DataError, match="pretrain.series=\\['m4'\\]: pretraining reads one or more of genres, tourism_monthly"):
        pretrain(config(tmp_path, *TINY, f"data.paths=[{panel_file}]", "stage=pretrain", "pretrain.series=[m4]"))


@pytest.mark.slow
def test_networks_pretrained_on_other_series_are_fine_tuned_on_the_target(panel_file, tmp_path):
    base = [*TINY, f"data.paths=[{panel_file}]", "pretrain.series=[tourism_yearly]", "pretrain.layers=[[nbeats]]"]
    task = GenreVolumeTask()
    pretrained = pretrain(config(tmp_path, *base, "stage=pretrain"))
    member = load_checkpoint(pretrained.checkpoint, task).model.member("other_series")
    assert member.stack.layers[0].names == ["nbeats"]     # only what pretrain.layers names
    oof_ids = load_checkpoint(pretrained.checkpoint, task).spec["extra"]["members"]["other_series"]["oof"]["ids"]
    assert len(oof_ids) == 2140 * 4 and all(i.startswith("tourism_yearly:") for i in oof_ids)   # 518 series, origins 4 years apart
    tuned = finetune(config(tmp_path, *base, "stage=finetune", f"ckpt_path={pretrained.checkpoint}"))
    model = load_checkpoint(tuned.checkpoint, task).model
    assert model.names == ["other_series (fine-tuned)", "scratch"]
    assert model.member("other_series (fine-tuned)").stack.layers[0].names == ["seasonal_naive", "theta", "lightgbm", "nbeats", "window_lstm"]


def test_quick_report_reproduces_the_competitions_seasonal_naive_through_the_tasks_rows(tmp_path):
    import json

    reports = tmp_path / "reports"
    json_path, md_path = GenreVolumeTask().report(config(tmp_path, "task=genre_volume", "report=quick", f"reports_dir={reports}",
                                                         "report_datasets=[tourism_quarterly]", name="evaluate"))
    results = json.loads(json_path.read_text())
    assert set(results) == {"tourism_quarterly", "meta"}
    quarterly = results["tourism_quarterly"]
    assert {"stack", "stack, one head", "stack, head per step", "seasonal_naive", "theta", "ets", "layer 1 lightgbm"} <= set(quarterly)
    assert quarterly["stack"]["mase"] == pytest.approx(quarterly["stack, head per step"]["mase"], rel=1e-6)   # the configured head
    assert quarterly["seasonal_naive"]["mape"] == pytest.approx(16.46, abs=0.05) and quarterly["theta"]["mape"] == pytest.approx(15.93, abs=0.05)
    assert quarterly["ets"]["mape"] == pytest.approx(15.22, abs=0.05)    # ours; the competition's ETS scored 15.31
    assert quarterly["stack, one head"]["runs"]["mase"] == [quarterly["stack, one head"]["mase"]]   # one run in a quick report
    assert all(0 <= row["coverage80"] <= 1 and row["windows"] == 427 for row in quarterly.values())
    assert "N-BEATS ensemble 14.95" in md_path.read_text() and "their methods and runs (not ours)" in md_path.read_text()
    command = results["meta"]["command"]
    assert command.endswith('report_datasets=[tourism_quarterly] "++report_pretrain.tourism_quarterly=[]"')
    rerun = config(tmp_path, *shlex.split(command.split("evaluate.py ", 1)[1]), name="evaluate")   # the command composes again
    assert rerun.report == "quick" and list(rerun.report_pretrain.tourism_quarterly) == []


@pytest.mark.slow
def test_full_report_pairs_pretrained_networks_with_scratch_by_seed(tmp_path):
    """The full report's path, small: two test windows, two seeds, networks pretrained on Tourism's yearly series (minutes; -m slow)."""
    import json

    small = ["task=genre_volume", "report=full", f"reports_dir={tmp_path / 'reports'}", "report_datasets=[genres]", "report_seeds.genres=2", "report_windows.genres=2",
             "report_pretrain.genres=[tourism_yearly]", "stack.layers=[[seasonal_naive,theta,nbeats]]", "pretrain.layers=[[nbeats]]",
             "++stack.learners.nbeats.max_epochs=2", "++stack.learners.nbeats.width=16", "split.max_origins=3", "stack.n_folds=2"]
    json_path, md_path = GenreVolumeTask().report(config(tmp_path, *small, name="evaluate"))
    genres = json.loads(json_path.read_text())["genres"]
    assert {"stack", "stack, pretrained", "layer 1 nbeats", "layer 1 nbeats, pretrained", "ets"} <= set(genres)
    assert all(len(row["runs"]["mase"]) == 4 for row in genres.values())     # 2 test windows x 2 seeds
    text = md_path.read_text()
    assert "`layer 1 nbeats, pretrained` minus from scratch (`layer 1 nbeats`), MASE paired by run" in text
    assert "means over 4 runs (2 test window(s) x 2 seed(s))" in text
    assert "pretrained on tourism_yearly" in text and '"++report_pretrain.genres=[tourism_yearly]"' in text   # its command reruns it
