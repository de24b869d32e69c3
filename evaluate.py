"""Evaluate checkpoints, score rows in batch, export a model, or build a task's report.

    python evaluate.py                                          # newest finetune checkpoint, test split
    python evaluate.py predict.input=films.csv predict.output=out.csv ckpt_path=...
    python evaluate.py export.output=stack.pt2 ckpt_path=...    # a torch.export program, runs with torch alone
    python evaluate.py task=ratings recommend.output=recs.csv   # each user's 10 best unrated films, precision@10 on test
    python evaluate.py task=genre_volume evaluate_stage=scratch forecast.output=forecast.csv   # p10/p50/p90 past the data, figures
    python evaluate.py table2=full                              # box office: reports/table2.md and reports/table2.json
    python evaluate.py task=ratings report=full                 # ratings: reports/ratings.md and reports/ratings.json
"""

import sys

import hydra
from omegaconf import DictConfig

from pel_torch.cli import check_task_choice, exits_cleanly
from pel_torch.errors import PelError


@hydra.main(config_path="pel_torch/configs", config_name="evaluate", version_base="1.3")
@exits_cleanly
def main(cfg: DictConfig) -> None:
    modes = {"table2" if cfg.table2 else "report": bool(cfg.report or cfg.table2), "predict.input/output": bool(cfg.predict.input or cfg.predict.output),
             "export.output": bool(cfg.export.output), "recommend.output": bool(cfg.recommend.output),
             "forecast.output": bool(cfg.forecast.output)}
    chosen = [mode for mode, on in modes.items() if on]
    if len(chosen) > 1:
        raise PelError(f"evaluate.py does one thing at a time, but {' and '.join(chosen)} were both given; run them one by one")
    if (cfg.predict.input or cfg.predict.output) and not (cfg.predict.input and cfg.predict.output):
        raise PelError("batch prediction needs both predict.input=FILE and predict.output=FILE")
    # torch and the learners' libraries load only now: a mistyped option costs a second, not ten.
    from pel_torch.checkpoint import load_checkpoint, resolve_checkpoint
    from pel_torch.evaluation import evaluate_checkpoint
    from pel_torch.export import export_checkpoint
    from pel_torch.pipeline import build_trainer, make_task
    from pel_torch.predict import predict_file

    task = make_task(cfg)
    if cfg.report or cfg.table2:
        print("\n".join(f"wrote {path}" for path in task.report(cfg)))
        return
    checkpoint = load_checkpoint(resolve_checkpoint(cfg, cfg.evaluate_stage), task, device=cfg.device)
    if cfg.export.output:
        print(f"exported {checkpoint.path} -> {export_checkpoint(checkpoint, cfg.export.output, overwrite=cfg.overwrite)}")
        return
    if cfg.recommend.output:
        print("\n".join(task.recommend(cfg, checkpoint)))
        return
    if cfg.forecast.output:
        print("\n".join(task.forecast(cfg, checkpoint)))
        return
    if cfg.predict.input:
        # trainer=ddp: Lightning's DDP scores the rows on several processes
        trainer = build_trainer(cfg, max_epochs=1, logger=False) if "ddp" in str(cfg.trainer.strategy) else None
        summary = predict_file(checkpoint, task, cfg.predict.input, cfg.predict.output, batch_size=cfg.predict.batch_size,
                               device=cfg.device, overwrite=cfg.overwrite, trainer=trainer, kernels=cfg.kernels)
        print(f"scored {summary.scored:,} of {summary.rows:,} rows -> {summary.output}", file=sys.stderr)
        if summary.unscored:
            print(f"{summary.unscored:,} rows could not be scored; see the 'reason' column", file=sys.stderr)
        return
    metrics = evaluate_checkpoint(cfg, task, checkpoint)
    print(f"checkpoint: {checkpoint.path} ({checkpoint.spec['stage']}, {checkpoint.spec['extra'].get('strategy', '-')})")
    for name, value in metrics.items():
        print(f"{name:<26} {value:.4f}")


if __name__ == "__main__":
    check_task_choice(sys.argv)
    main()
