"""Train P-EL.

    python train.py stage=pretrain      # fit the stack on ratings, save checkpoints/pretrain/*.safetensors
    python train.py stage=finetune      # reload the newest pretrain checkpoint, adapt it to box office
    python train.py stage=scratch       # the same stack on box office only (the paper's EL baseline)
    python train.py stage=prepare       # load, split and featurize only
"""

import hydra
from omegaconf import DictConfig

from pel_torch.cli import exits_cleanly
from pel_torch.errors import PelError
from pel_torch.pipeline import prepare
from pel_torch.stages import finetune, pretrain, scratch

STAGES = {"pretrain": pretrain, "finetune": finetune, "scratch": scratch}


@hydra.main(config_path="configs", config_name="train", version_base="1.3")
@exits_cleanly
def main(cfg: DictConfig) -> None:
    if cfg.stage == "prepare":
        prepared = prepare(cfg)
        print(prepared.split.describe())
        print(f"features: {prepared.features.shape[1]} columns for {prepared.features.shape[0]:,} films")
        return
    if cfg.stage not in STAGES:
        raise PelError(f"unknown stage '{cfg.stage}'; choose one of: prepare, {', '.join(STAGES)}")
    result = STAGES[cfg.stage](cfg)
    width = max(map(len, result.metrics), default=0) + 1
    for name, value in sorted(result.metrics.items()):
        print(f"{name:<{width}}{value:.4f}")
    print(f"checkpoint: {result.checkpoint}")


if __name__ == "__main__":
    main()
