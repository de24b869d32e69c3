"""Train a task's models (box office by default).

    python train.py stage=pretrain      # fit a stack per pretraining target, save checkpoints/pretrain/*.safetensors
    python train.py stage=finetune      # reload the newest pretrain checkpoint, adapt it to the task's target
    python train.py stage=scratch       # the same stack on the task's target only (the paper's EL baseline)
    python train.py stage=prepare       # load, split and build inputs only
    python train.py task=box_office ... # the task (pel_torch/configs/task/)
"""

import sys

import hydra
from omegaconf import DictConfig

from pel_torch.cli import check_task_choice, exits_cleanly
from pel_torch.errors import PelError

STAGES = ("pretrain", "finetune", "scratch")


@hydra.main(config_path="pel_torch/configs", config_name="train", version_base="1.3")
@exits_cleanly
def main(cfg: DictConfig) -> None:
    if cfg.stage not in ("prepare", *STAGES):
        raise PelError(f"unknown stage '{cfg.stage}'; choose one of: prepare, {', '.join(STAGES)}")
    # torch and the learners' libraries load only now: a mistyped option costs a second, not ten.
    from pel_torch import stages
    from pel_torch.pipeline import make_task

    if cfg.stage == "prepare":
        task = make_task(cfg)
        prepared = task.prepare(cfg)
        print(prepared.split.describe())
        print(f"inputs: {prepared.features.shape[1]} columns for {prepared.features.shape[0]:,} rows")
        return
    result = getattr(stages, cfg.stage)(cfg)
    width = max(map(len, result.metrics), default=0) + 1
    for name, value in sorted(result.metrics.items()):
        print(f"{name:<{width}}{value:.4f}")
    print(f"checkpoint: {result.checkpoint}")


if __name__ == "__main__":
    check_task_choice(sys.argv)
    main()
