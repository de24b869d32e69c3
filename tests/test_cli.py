import json
import subprocess
import sys

import pandas as pd

from pel_torch.data import load_films


def test_json_summary_of_embedded_data():
    result = subprocess.run([sys.executable, "-m", "pel_torch.data", "wikidata", "--json"], capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout)
    assert summary["films"] >= 17_000 and summary["with_rating"] >= 17_000 and summary["with_revenue"] >= 2_700
    assert summary["first_year"] == 1940 and summary["last_year"] == 2014
    assert 0.6 < summary["missing_share"]["release_date"] < 0.7
    assert "values below $1,000 set missing" in result.stderr


def test_out_writes_a_table_the_csv_source_reads_back(tmp_path, films):
    out = tmp_path / "films.csv"
    result = subprocess.run([sys.executable, "-m", "pel_torch.data", "wikidata", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "films" in result.stdout and "missing share per column" in result.stdout
    pd.testing.assert_frame_equal(load_films("csv", out)[0], films)
    again = subprocess.run([sys.executable, "-m", "pel_torch.data", "wikidata", "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
