"""Test-split metrics of a checkpoint, on the very split and rows it was trained with."""

from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import Checkpoint, CheckpointError
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, select_kernels


def checkpoint_config(cfg: DictConfig, checkpoint: Checkpoint) -> DictConfig:
    """The training config saved in ``checkpoint``, with this run's threads and jobs."""
    saved = checkpoint.spec["extra"].get("config")
    if saved is None:
        raise CheckpointError(f"{checkpoint.path}: holds no training config; evaluate needs a checkpoint written by train.py")
    merged = OmegaConf.create(saved)
    merged.threads, merged.jobs = cfg.threads, cfg.jobs
    return merged


def evaluate_checkpoint(cfg: DictConfig, task, checkpoint: Checkpoint) -> dict[str, float]:
    """``task``'s metrics of ``checkpoint`` on the test rows of the split it was trained on."""
    if checkpoint.spec["target"]["name"] != task.main_target:
        raise CheckpointError(f"{checkpoint.path}: a {checkpoint.spec['stage']} checkpoint predicts "
                              f"{checkpoint.spec['target']['name']}; evaluate a finetune or scratch checkpoint")
    prepared = task.prepare(checkpoint_config(cfg, checkpoint), inputs=checkpoint.inputs)
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    test = prepared.split.test
    y = scale.encode(task.target_values(prepared.table, scale.name))[test]
    model, kind = select_kernels(checkpoint.model, cfg.kernels, cfg.device)
    prediction = predict_batches(model, prepared.raw[test], device=cfg.device, pad=kind == "compiled")
    table = prepared.table.iloc[test]
    metrics = {f"test/{name}": value for name, value in task.metrics(y, prediction, scale, table).items()}
    for group, rows in task.test_groups(prepared).items():
        metrics.update({f"test/{group}/{name}": value for name, value in task.metrics(y[rows], prediction[rows], scale, table[rows]).items()})
    return metrics
