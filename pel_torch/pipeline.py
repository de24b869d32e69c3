"""Objects built from config, in one place: entry points, stages and tests call these functions."""

import time
import warnings
from importlib import resources

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger

from pel_torch.errors import PelError
from pel_torch.learners import make_learner
from pel_torch.learners.bagging import check_jobs
from pel_torch.learners.stacking import StackedEnsemble
from pel_torch.tasks.base import Task
from pel_torch.threads import limit_threads


def make_task(cfg: DictConfig) -> Task:
    """The task ``cfg.task`` names (its ``_target_``), with ``cfg.threads`` applied to every library."""
    limit_threads(cfg.threads)
    check_jobs(cfg.get("jobs", 1))   # here, before the data is read, not when the stack is built
    return instantiate(cfg.task)


def build_stack(cfg: DictConfig, *, progress: bool = True, layers=None, last_layer: str | None = None) -> StackedEnsemble:
    """An unfitted stack from ``cfg.stack`` (with ``layers``, learner names per layer, and ``last_layer`` instead of
    its own where given), seeded from ``cfg.seed``, thread-capped by ``cfg.threads``, fitting ``cfg.jobs`` folds at once."""
    s = cfg.stack
    overrides = OmegaConf.to_container(s.learners, resolve=True) or {}
    layers = layers or s.layers
    names = [list(layer) for layer in layers] if layers else [list(s.layer)] * s.n_layers
    layers = [[make_learner(name, overrides.get(name), seed=cfg.seed * 100 + depth, threads=cfg.threads) for name in layer]
              for depth, layer in enumerate(names)]
    return StackedEnsemble(layers, n_folds=s.n_folds, passthrough=s.passthrough, selection_rounds=s.selection_rounds,
                           seed=cfg.seed, progress=progress,
                           # configs saved before these keys existed had one set of head weights and a bagged last layer
                           head_groups=s.get("head_groups"), last_layer=last_layer or s.get("last_layer", "bagged"), jobs=cfg.jobs)


def build_logger(cfg: DictConfig) -> TensorBoardLogger:
    """One TensorBoard run per invocation, under ``<save_dir>/<stage>/<time>``."""
    return instantiate(cfg.logger, name=cfg.stage, version=time.strftime("%Y%m%d-%H%M%S"))


def build_trainer(cfg: DictConfig, *, max_epochs: int, callbacks=(), single_device: bool = False, logger: bool = True) -> pl.Trainer:
    """``cfg.trainer`` with the stage's epochs and callbacks; ``single_device``: one process whatever the config."""
    placement = {"devices": 1, "strategy": "auto"} if single_device else {}
    if "spawn" in str(cfg.trainer.strategy) and not single_device:
        # A compiled stack holds thousands of small tensors; passing each through its own file
        # descriptor to the spawned processes fails ("unable to resize file"), files do not.
        torch.multiprocessing.set_sharing_strategy("file_system")
    # The stack stays in eval mode while it learns (lit.py), which Lightning warns about; the pytree
    # deprecation notice is Lightning's own business.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    return instantiate(cfg.trainer, max_epochs=max_epochs, callbacks=list(callbacks),
                       logger=build_logger(cfg) if logger else False, **placement)


def flat_config(cfg: DictConfig) -> dict:
    """``cfg`` as ``{"a.b.c": value}``, the shape TensorBoard's hyperparameters take."""
    flat = {}

    def walk(prefix, node):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            else:
                flat[name] = value if isinstance(value, (int, float, str, bool)) else str(value)

    walk("", OmegaConf.to_container(cfg, resolve=True))
    return flat


def packaged_config(group: str, name: str) -> DictConfig:
    """Config ``name`` of ``group`` as shipped in the package: reports run splits and data the command line did not choose.
    A ``# @package _global_`` file comes back as the top-level keys it sets."""
    return OmegaConf.create(resources.files("pel_torch.configs").joinpath(group, f"{name}.yaml").read_text())


def packaged_split(name: str) -> DictConfig:
    return packaged_config("split", name)


def other_overrides(written: tuple[str, ...]) -> str:
    """The command line's overrides a report's command does not write itself (``written``: their prefixes), such
    as ``split.refit=once``, so that the command reruns what ran; where to write (``*_dir``) is left out. Empty
    outside a Hydra run (tests compose their configs)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ""
    skip = written + ("task=", "threads=", "checkpoints_dir=", "reports_dir=")
    return "".join(f' "{o}"' for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith(skip))


def report_mode(cfg: DictConfig, alias: str | None = None) -> str:
    """``report`` (or a task's own spelling of it, box office's ``table2``): full or quick."""
    given = {key: cfg.get(key) for key in ("report", alias) if key and cfg.get(key)}
    if len(set(given.values())) > 1:
        raise PelError(f"{' and '.join(f'{k}={v}' for k, v in given.items())} disagree; give one of them")
    mode = next(iter(given.values()), None)
    if mode not in ("full", "quick"):
        raise PelError(f"{next(iter(given), 'report')}={mode}: choose full or quick")
    return mode
