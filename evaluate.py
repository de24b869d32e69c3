"""Evaluate P-EL checkpoints, score films in batch, and build the paper's Table 2 on our data.

    python evaluate.py                                          # newest finetune checkpoint, test split
    python evaluate.py predict.input=films.csv predict.output=out.csv ckpt_path=...
    python evaluate.py export.output=stack.pt2 ckpt_path=...    # a torch.export program, runs with torch alone
    python evaluate.py table2=full                              # reports/table2.md and reports/table2.json
"""

import sys

import hydra
from omegaconf import DictConfig

from pel_torch.checkpoint import load_checkpoint
from pel_torch.cli import exits_cleanly
from pel_torch.errors import PelError
from pel_torch.evaluation import evaluate_checkpoint
from pel_torch.export import export_checkpoint
from pel_torch.predict import predict_file
from pel_torch.stages import build_trainer, resolve_checkpoint


@hydra.main(config_path="configs", config_name="evaluate", version_base="1.3")
@exits_cleanly
def main(cfg: DictConfig) -> None:
    if cfg.table2:
        from pel_torch.table2 import run_table2

        paths = run_table2(cfg)
        print("\n".join(f"wrote {path}" for path in paths))
        return
    checkpoint = load_checkpoint(resolve_checkpoint(cfg, cfg.evaluate_stage), device=cfg.device)
    if cfg.export.output:
        print(f"exported {checkpoint.path} -> {export_checkpoint(checkpoint, cfg.export.output, overwrite=cfg.overwrite)}")
        return
    if cfg.predict.input or cfg.predict.output:
        if not (cfg.predict.input and cfg.predict.output):
            raise PelError("batch prediction needs both predict.input=FILE and predict.output=FILE")
        # trainer=ddp: Lightning's DDP scores the films on several processes
        trainer = build_trainer(cfg, max_epochs=1, logger=False) if "ddp" in str(cfg.trainer.strategy) else None
        summary = predict_file(checkpoint, cfg.predict.input, cfg.predict.output, batch_size=cfg.predict.batch_size,
                               device=cfg.device, overwrite=cfg.overwrite, trainer=trainer,
                               kernels=cfg.kernels)
        print(f"scored {summary.scored:,} of {summary.rows:,} films -> {summary.output}", file=sys.stderr)
        if summary.unscored:
            print(f"{summary.unscored:,} films could not be scored; see the 'reason' column", file=sys.stderr)
        return
    metrics = evaluate_checkpoint(cfg, checkpoint)
    print(f"checkpoint: {checkpoint.path} ({checkpoint.spec['stage']}, {checkpoint.spec['extra'].get('strategy', '-')})")
    for name, value in metrics.items():
        print(f"{name:<26} {value:.4f}")


if __name__ == "__main__":
    main()
