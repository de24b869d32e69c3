"""The benchmarks' reprint of a saved run: the table from the JSON in docs/, and a one-line error for anything else."""

import json
import subprocess
import sys
from pathlib import Path

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
