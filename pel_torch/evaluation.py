"""Test-split metrics of a checkpoint, on the very split and films it was trained with."""

from omegaconf import DictConfig, OmegaConf

from pel_torch.checkpoint import Checkpoint, CheckpointError
from pel_torch.features.targets import TargetScale
from pel_torch.inference import predict_batches, select_kernels
from pel_torch.pipeline import prepare
from pel_torch.stages import regression_metrics


def checkpoint_config(cfg: DictConfig, checkpoint: Checkpoint) -> DictConfig:
    """The training config saved in ``checkpoint``, with this run's threads and paths."""
    saved = checkpoint.spec.get("extra", {}).get("config")
    if saved is None:
        raise CheckpointError(f"{checkpoint.path}: holds no training config; evaluate needs a checkpoint written by train.py")
    merged = OmegaConf.create(saved)
    merged.threads = cfg.threads
    return merged


def evaluate_checkpoint(cfg: DictConfig, checkpoint: Checkpoint) -> dict[str, float]:
    """R2 / MSE / MAE on the standardised log revenue of the test films, and MAE in log dollars."""
    if checkpoint.spec["target"]["name"] != "revenue":
        raise CheckpointError(f"{checkpoint.path}: a {checkpoint.spec['stage']} checkpoint predicts "
                              f"{checkpoint.spec['target']['name']}; evaluate a finetune or scratch checkpoint")
    prepared = prepare(checkpoint_config(cfg, checkpoint), featurizer=checkpoint.featurizer)
    scale = TargetScale.from_dict(checkpoint.spec["target"])
    test = prepared.split.test
    y = scale.encode(prepared.films)[test]
    model, kind = select_kernels(checkpoint.model, cfg.get("kernels", "auto"), cfg.device)
    prediction = predict_batches(model, prepared.raw[test], device=cfg.device, pad=kind == "compiled")
    metrics = {f"test/{name}": value for name, value in regression_metrics(y, prediction).items()}
    metrics["test/mae_log_dollars"] = metrics["test/mae"] * scale.std
    metrics["test/films"] = float(len(test))
    return metrics
