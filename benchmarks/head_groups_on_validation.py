"""One head or a head per step ahead, judged on validation alone: is there a signal to choose the grouping by?

    python benchmarks/head_groups_on_validation.py genres
    python benchmarks/head_groups_on_validation.py tourism_quarterly "stack.layers=[[seasonal_naive,theta,ets,lightgbm,neural_net,nbeats]]"

It reads the scratch stack that ``evaluate.py task=genre_volume report=full`` fitted for the dataset
(seed 0, its last window; further arguments are Hydra overrides that make the config match the
report's, such as Tourism's stack without ``window_lstm``). Each series' validation origins are split
in two: both heads are chosen on the earlier half and scored on the later half, which neither saw.
No test row is read. A head per step always fits its own rows better; this asks whether it also
forecasts the next origins better.
"""

import argparse
import logging
import sys
from types import SimpleNamespace

import numpy as np

from common import config
from pel_torch.checkpoint import load_checkpoint, reusable_checkpoint
from pel_torch.inference import validation_learner_predictions
from pel_torch.stages import main_target
from pel_torch.tasks.genre_volume.report import DATASETS, both_heads
from pel_torch.tasks.genre_volume.task import GenreVolumeTask, forecast_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=DATASETS)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    cfg = config(["task=genre_volume", f"data={args.dataset}", "stage=scratch",
                  f"checkpoints_dir=checkpoints/genre_volume_report/{args.dataset}", *args.overrides])
    task = GenreVolumeTask()
    prepared = task.prepare(cfg)
    path = reusable_checkpoint(cfg, task, "scratch")
    if path is None:
        raise SystemExit(f"no scratch checkpoint of the report for {args.dataset} with these settings under {cfg.checkpoints_dir}; "
                         "run evaluate.py task=genre_volume report=full first, or match its stack with overrides")
    scale, y = main_target(task, prepared)
    checkpoint = load_checkpoint(path, task)
    table, val = prepared.table, prepared.split.val
    # before the members were refitted on the validation rows (split.refit), where they were
    members = validation_learner_predictions(checkpoint.model.member("scratch").double().eval(), prepared.raw[val], checkpoint.held_out)
    order = table.iloc[val].groupby("series")["origin"].rank(method="dense").to_numpy()
    earlier = order <= np.median(order)
    later = ~earlier
    # the report's own two heads, chosen on the earlier origins ("val") and applied to the later ones ("test")
    halves = SimpleNamespace(val=val[earlier], test=val[later])
    heads = both_heads({"val": {name: p[earlier] for name, p in members.items()}, "test": {name: p[later] for name, p in members.items()}},
                       y[halves.val], table["step"].to_numpy() - 1, halves, cfg.horizon, cfg.stack.selection_rounds)["test"]
    rows = val[later]
    print(f"{args.dataset}: heads chosen on validation origins {int(order[earlier].max())} of {int(order.max())} per series, "
          f"scored on the rest ({len(rows):,} rows); checkpoint {path.name}")
    print("| head | squared error (learning scale) | MAPE | MASE |\n|---|---|---|---|")
    for name, prediction in heads.items():
        errors = forecast_errors(table.iloc[rows].assign(forecast=scale.decode(prediction) * table["scale"].to_numpy()[rows]), "forecast")
        print(f"| {name} | {np.mean((prediction - y[rows]) ** 2):.5f} | {errors['mape']:.2f} | {errors['mase']:.3f} |")


if __name__ == "__main__":
    sys.exit(main())
