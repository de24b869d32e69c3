"""The benchmarks' reprint of a saved run: the table from the JSON in docs/, and a one-line error for anything else."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def reprint(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/pretraining_ablation.py", "--table", str(path), "--autogluon", "none.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_table_reprints_a_saved_run_paired_by_seed():
    saved = json.loads((ROOT / "docs/ablation/votes_year.json").read_text())
    result = reprint("docs/ablation/votes_year.json")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| votes_year |")]
    assert [row.split("|")[2].strip() for row in rows] == ["random", "temporal"]
    # The paired gain is recomputed from the saved per-seed scores, not stored.
    gains = [s["P-EL"]["r2"] - s["EL"]["r2"] for s in saved["results"]["temporal"]]
    assert f"{sum(gains) / len(gains):+.3f}" in rows[1]


def test_table_names_a_missing_or_foreign_file_in_one_line(tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"r2": [0.5]}))
    for path, reason in ((tmp_path / "missing.json", "cannot read it as JSON"), (foreign, "not a saved ablation run")):
        result = reprint(path)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and reason in lines[0], result.stderr


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
