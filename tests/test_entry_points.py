"""train.py and evaluate.py as a user runs them: Hydra composes the packaged configs; bad input is one line."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from pel_torch.lit import BestWeights


def run(script, *args):
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_evaluate_prints_the_test_metrics_of_the_newest_finetune_checkpoint(workdir):
    from conftest import config
    from pel_torch.stages import finetune

    tmp, _ = workdir
    finetune(config(tmp, "stage=finetune", "finetune.blend=false"))
    result = run("evaluate.py", f"checkpoints_dir={tmp}", "threads=1")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split()[:2] for line in result.stdout.splitlines() if line.startswith("test/"))
    assert 0.3 < float(lines["test/r2"]) < 1 and float(lines["test/films"]) > 500
    assert f"checkpoint: {tmp}/finetune/" in result.stdout


@pytest.mark.parametrize("script, args, message", [
    ("train.py", ["stage=fly"], "error: unknown stage 'fly'"),
    ("train.py", ["task=weather", "stage=pretrain"], "error: unknown task 'weather'; choose one of: box_office"),
    ("train.py", ["task=genre_volume", "stage=scratch", "jobs=0"], "error: jobs=0: must be at least 1"),
    ("evaluate.py", ["task=weather"], "error: unknown task 'weather'; choose one of: box_office"),
    ("evaluate.py", ["checkpoints_dir=/nonexistent"], "error: no finetune checkpoint under /nonexistent"),
    ("evaluate.py", ["ckpt_path=README.md"], "error: README.md: not a readable pel_torch checkpoint"),
    ("evaluate.py", ["table2=full", "predict.input=films.csv", "predict.output=out.csv"],
     "error: evaluate.py does one thing at a time, but table2 and predict.input/output were both given"),
    ("evaluate.py", ["export.output=x.pt2", "predict.input=films.csv"], "error: evaluate.py does one thing at a time"),
])
def test_entry_points_fail_with_one_line(script, args, message):
    result = run(script, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(message)


def test_evaluation_and_prediction_never_import_the_training_modules():
    code = ("import sys, pel_torch.evaluation, pel_torch.predict, pel_torch.export; "
            "print(sorted(m for m in sys.modules if m in ('pel_torch.stages', 'pel_torch.finetuning', 'pytorch_lightning')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class _Trainer:
    def __init__(self):
        self.callback_metrics = {}


class _Module:
    def __init__(self):
        self.model = torch.nn.Linear(1, 1)


def test_best_weights_restores_the_epoch_of_the_lowest_validation_loss():
    callback, trainer, module = BestWeights(), _Trainer(), _Module()
    states = []
    for loss in (0.9, 0.4, 0.6, 0.5):
        with torch.no_grad():
            module.model.weight.add_(1.0)   # each "epoch" moves the weights
        states.append(module.model.weight.detach().clone())
        trainer.callback_metrics["val/loss"] = torch.tensor(loss)
        callback.on_validation_end(trainer, module)
    callback.on_fit_end(trainer, module)
    assert torch.equal(module.model.weight, states[1]) and callback.best == pytest.approx(0.4)
    assert not np.isclose(float(states[1]), float(states[-1]))


def test_a_reports_command_names_the_overrides_it_ran_with():
    """A report's ``command`` writes its own keys; every other override (not where to write) rides along."""
    from hydra import compose, initialize_config_module
    from hydra.core.hydra_config import HydraConfig

    from pel_torch.pipeline import other_overrides

    assert other_overrides(("report=",)) == ""   # composed without a Hydra run: nothing to add
    with initialize_config_module(config_module="pel_torch.configs", version_base="1.3"):
        cfg = compose("evaluate", overrides=["task=genre_volume", "report=full", "split.refit=once", "reports_dir=/tmp/r",
                                             "++stack.learners.lightgbm.n_estimators=9"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        assert other_overrides(("report=",)) == ' "split.refit=once" "++stack.learners.lightgbm.n_estimators=9"'
    finally:
        HydraConfig.instance().cfg = None
