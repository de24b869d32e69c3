"""Table 2's report: which P-EL is chosen (validation, never test), the paired gain, the strategy list."""

import json

import numpy as np
import pytest
from conftest import config
from pel_torch.errors import PelError
from pel_torch.tasks.box_office.report import ABLATION, BASELINES, METRICS, WITHOUT_HEAD, format_table, run_table2


def _results(test_r2: dict, val_r2: dict) -> dict:
    rows = {}
    for model in list(test_r2) + [m for m in BASELINES if m not in test_r2]:
        r2 = test_r2.get(model, [0.5, 0.5])
        rows[model] = {m: list(r2) if m == "r2" else list(val_r2.get(model, [np.nan] * len(r2))) if m == "val_r2" else [0.1, 0.1]
                       for m in METRICS}
    return {"random": rows, "temporal": rows}


def test_p_el_is_chosen_on_validation_and_compared_to_el_by_seed():
    results = _results({"P-EL (leaves)": [0.60, 0.50], "P-EL (prior)": [0.70, 0.70], "EL": [0.55, 0.52]},
                       {"P-EL (leaves)": [0.9, 0.9], "P-EL (prior)": [0.1, 0.1]})
    table = format_table(results, {"data": "csv films.csv (3 films)", "date": "today", "command": "cmd", "seconds": 1, "seeds_done": {}, "seeds_planned": 2})
    assert "Data: csv films.csv (3 films)." in table and "Wikidata" not in table
    assert "| **P-EL (leaves)** |" in table and "| P-EL (prior) |" in table   # the test-best prior is not chosen
    assert "P-EL (leaves) minus EL, test R2 paired by seed: 0.015 ± 0.049 (positive on 1 of 2 seeds); MSE 0.000 ± 0.000" in table
    assert "0.777 / 0.193 / 0.346" in table  # the paper's numbers, beside ours


def test_unknown_strategy_is_refused_before_any_run(tmp_path):
    cfg = config(tmp_path, "table2=quick", "table2_strategies=[leaves,boost]", name="evaluate")
    with pytest.raises(PelError, match="table2_strategies: unknown boost"):
        run_table2(cfg)


@pytest.mark.parametrize("overrides, message", [
    (["pretrain.targets=[ratings]"], r"pretrain.targets=\['ratings'\]: box_office pretrains on rating, votes_year"),
    (["pretrain.targets=[votes_year,votes_year]"], "repeats a target"),
])
def test_bad_pretraining_targets_are_refused_before_any_run(tmp_path, overrides, message):
    with pytest.raises(PelError, match=message):
        run_table2(config(tmp_path, "table2=quick", *overrides, name="evaluate"))


@pytest.mark.slow
def test_quick_table2_writes_every_model_for_both_splits(tmp_path):
    cfg = config(tmp_path, "table2=quick", f"reports_dir={tmp_path}/reports", name="evaluate")
    json_path, md_path = run_table2(cfg)
    results = json.loads(json_path.read_text())
    assert results["meta"]["seeds_done"] == {"random": 1, "temporal": 1}
    for split in ("random", "temporal"):
        assert set(results[split]) == {"P-EL (leaves)", ABLATION, "P-EL (leaves)" + WITHOUT_HEAD, ABLATION + WITHOUT_HEAD, *BASELINES}
        assert all(len(row["r2"]) == 1 and np.isfinite(row["r2"][0]) for row in results[split].values())
    assert f"P-EL (leaves) minus {ABLATION}" in md_path.read_text()


def test_an_interrupted_run_continues_where_it_stopped(tmp_path, monkeypatch):
    """A five-seed Table 2 takes hours; rerunning the same command keeps the (split, seed) runs already written."""
    from pel_torch.tasks.box_office import report

    runs, interrupt_at = [], 3

    def fake_run(cfg, strategies):
        runs.append((cfg.split.kind, cfg.seed))
        if len(runs) == interrupt_at:
            raise RuntimeError("interrupted")
        return {model: {"r2": 0.1 * cfg.seed} for model in models}

    models = ["P-EL (leaves)", ABLATION, "P-EL (leaves)" + WITHOUT_HEAD, ABLATION + WITHOUT_HEAD, *BASELINES]
    monkeypatch.setattr(report, "_one_run", fake_run)
    cfg = config(tmp_path, "table2=full", "table2_seeds=2", f"reports_dir={tmp_path}/reports", name="evaluate")
    with pytest.raises(RuntimeError, match="interrupted"):
        run_table2(cfg)
    assert json.loads((tmp_path / "reports/table2.json").read_text())["meta"]["seeds_done"] == {"random": 1, "temporal": 1}
    run_table2(cfg)
    results = json.loads((tmp_path / "reports/table2.json").read_text())
    assert runs == [("random", 0), ("temporal", 0), ("random", 1), ("random", 1), ("temporal", 1)]
    assert results["temporal"]["EL"]["r2"] == [0.0, 0.1]
    run_table2(cfg)  # a finished run is not continued: it starts afresh
    assert runs[5:] == [("random", 0), ("temporal", 0), ("random", 1), ("temporal", 1)]
    other = config(tmp_path, "table2=full", "table2_seeds=2", "threads=1", f"reports_dir={tmp_path}/reports", name="evaluate")
    runs.clear()
    interrupt_at = 0
    run_table2(other)  # another command does not reuse these results
    assert runs[:1] == [("random", 0)]
