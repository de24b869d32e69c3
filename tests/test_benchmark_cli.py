"""benchmarks/pair_runs.py: pairs two Table 2-shaped runs by seed, with a one-line error for a file it cannot use."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT


def pair(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/pair_runs.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_pairs_the_committed_table2_with_autogluon_by_seed():
    result = pair("docs/table2.json", "P-EL (leaves)", "docs/autogluon.json", "AutoGluon")
    assert result.returncode == 0, result.stderr
    table2 = json.loads((ROOT / "docs/table2.json").read_text())
    autogluon = json.loads((ROOT / "docs/autogluon.json").read_text())
    row = next(line for line in result.stdout.splitlines() if line.startswith("| random |"))
    # The paired gain is recomputed from the saved per-seed scores, not stored.
    gains = [a - b for a, b in zip(table2["random"]["P-EL (leaves)"]["r2"], autogluon["random"]["AutoGluon"]["r2"])]
    assert f"{sum(gains) / len(gains):+.3f}" in row


def test_names_a_missing_or_foreign_file_in_one_line(tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"random": {"EL": {"r2": [0.5]}}}))
    for path, model, reason in ((tmp_path / "missing.json", "P-EL", "cannot read it as JSON"), (foreign, "P-EL", "no model 'P-EL'; it holds EL")):
        result = pair(path, model, "docs/autogluon.json", "AutoGluon")
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and str(path) in lines[0] and reason in lines[0], result.stderr


def test_pair_runs_pairs_by_seed_and_compares_every_seed_with_a_single_base_run(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from pair_runs import paired_table, scores

    model = {"temporal": {"r2": [0.50, 0.60, 0.70], "mse": [0.5, 0.4, 0.3], "mae": [0.6, 0.5, 0.4]},
             "random": {"r2": [0.60, 0.62, 0.58], "mse": [0.4, 0.4, 0.4], "mae": [0.5, 0.5, 0.5]}}
    base = {"temporal": {"r2": [0.55], "mse": [0.45], "mae": [0.55]},
            "random": {"r2": [0.61, 0.60, 0.59, 0.9], "mse": [0.4] * 4, "mae": [0.5] * 4}}
    table = paired_table(model, base, "P-EL", "AutoGluon").splitlines()
    assert "| +0.050 ± 0.100 | 2 of 3 | -0.050 | -0.050 |" in table[2]
    # Seed k against seed k; the base's extra fourth seed has no partner and is left out.
    assert "| +0.000 ± 0.017 | 1 of 3 |" in table[3]

    run = tmp_path / "table2.json"
    run.write_text(json.dumps({"meta": {}, **{s: {"P-EL": m} for s, m in model.items()}}))
    assert scores(run, "P-EL") == model
    with pytest.raises(SystemExit, match=r"no model 'EL'; it holds P-EL"):
        scores(run, "EL")


def test_the_synthetic_movielens_1m_folder_is_read_by_the_ml1m_loader(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from ratings_scale import synthetic_movielens_1m

    from pel_torch.data.movielens import load_movielens

    synthetic_movielens_1m(tmp_path, 3_000, n_users=60, n_films=80)
    data = load_movielens(tmp_path)
    ratings = data.ratings
    assert len(ratings) == 3_000 and ratings["user"].nunique() == 60
    assert ratings.groupby("user").size().min() >= 20 and set(ratings["rating"]) <= {1, 2, 3, 4, 5}
    assert not ratings.duplicated(["user", "item"]).any()
    assert len(data.items) == 80 and data.items["year"].notna().all() and len(data.users) == 60


def test_pair_forecasts_pairs_two_reports_run_by_run(tmp_path):
    def report(mase: list[float], key: str) -> dict:
        runs = {"mape": [20.0] * len(mase), "smape": [18.0] * len(mase), "mase": mase, "coverage80": [0.8] * len(mase)}
        return {"genres": {"stack": {"mase": sum(mase) / len(mase), key: runs}}, "meta": {}}

    new, old, short = tmp_path / "new.json", tmp_path / "old.json", tmp_path / "short.json"
    new.write_text(json.dumps(report([0.40, 0.50, 0.45], "runs")))
    old.write_text(json.dumps(report([0.42, 0.48, 0.50], "seeds")))    # a report written before the "runs" key
    short.write_text(json.dumps(report([0.42], "runs")))
    script = [sys.executable, "benchmarks/pair_forecasts.py"]
    result = subprocess.run([*script, new, "stack", old, "stack"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "| mase |" in line)
    assert "-0.017 ± 0.035" in row and "| 2 of 3 |" in row      # differences -0.02, +0.02, -0.05
    result = subprocess.run([*script, new, "stack", short, "stack"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and result.stderr.strip() == "genres: 3 runs against 1; pair reports of the same windows and seeds"
    foreign = tmp_path / "foreign.json"   # a model without its per-run values
    foreign.write_text(json.dumps({"genres": {"stack": {"mase": 0.4}}}))
    result = subprocess.run([*script, foreign, "stack", old, "stack"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and result.stderr.strip() == (f"{foreign}: 'stack' of genres has no per-run mape, smape, mase, coverage80 "
                                                                "(its 'runs'); pass the JSON of evaluate.py task=genre_volume report=full")


def test_head_groups_on_validation_asks_for_the_reports_fit_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "benchmarks/head_groups_on_validation.py", "genres", f"checkpoints_dir={tmp_path}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    last = result.stderr.strip().splitlines()[-1]   # after the windows' progress bars
    assert result.returncode != 0 and last.startswith(f"no scratch checkpoint of the report for genres with these settings under {tmp_path}")


def test_forecast_settings_refuse_a_variant_that_changes_the_rows_in_one_line(tmp_path):
    """The variants share the first one's forecast rows, so a variant of the split could only be scored on the wrong rows."""
    out = tmp_path / "settings.json"
    result = subprocess.run([sys.executable, "benchmarks/forecast_learner_settings.py", "genres", "seasonal_naive", "--threads", "1",
                             "--variant", "season=split.val_origins=7", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith("--variant split.val_origins=7: changes how the rows are built")
    assert "seed 0 config:" in result.stdout and not out.exists()
