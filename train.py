"""Train P-EL: ``python train.py stage=prepare`` (Hydra overrides, e.g. ``split=random seed=3``)."""

import hydra
from omegaconf import DictConfig

from pel_torch.cli import exits_cleanly
from pel_torch.errors import PelError
from pel_torch.pipeline import prepare

STAGES = ("prepare",)


@hydra.main(config_path="configs", config_name="train", version_base="1.3")
@exits_cleanly
def main(cfg: DictConfig) -> None:
    if cfg.stage not in STAGES:
        raise PelError(f"unknown or not yet available stage '{cfg.stage}'; available: {', '.join(STAGES)}")
    prepared = prepare(cfg)
    print(prepared.split.describe())
    print(f"features: {prepared.features.shape[1]} columns for {prepared.features.shape[0]:,} films")


if __name__ == "__main__":
    main()
