"""Checkpoints: tensors in one safetensors file, with a JSON spec in its metadata. No pickle anywhere.

The spec holds the format version, package and library versions, the task, the input names, the
model's layout, the fitted input builder's state (stored and rebuilt through the task), the
stage and target. A SHA-256 of the tensors catches corruption that still parses; a truncated
file fails to parse. Either way the user gets one line.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from pel_torch import __version__
from pel_torch.atomic import atomic_output
from pel_torch.errors import PelError
from pel_torch.stack.blend import Blend
from pel_torch.stack.build import blend_spec, build_blend

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: tasks, and a flat selection head over member stacks
LIBRARIES = ("torch", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "catboost")


class CheckpointError(PelError):
    """A checkpoint that cannot be used: missing, corrupted, from the future, or for another task or other inputs."""


@dataclass
class Checkpoint:
    model: Blend
    inputs: object   # the task's fitted input builder (``pel_torch.tasks.base.InputBuilder``)
    spec: dict
    path: Path
    # validation predictions of the model before its members were refitted on the validation rows (``fit_scratch``):
    # ``{"model": (n_val,), "layer k name": (n_val,)}``, empty where nothing was refitted
    held_out: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return self.spec["feature_names"]


def save_checkpoint(path: str | Path, model: Blend, inputs, *, task: str, stage: str, target: dict,
                    extra: dict | None = None, held_out: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``model`` and the fitted ``inputs`` builder of task ``task`` atomically to ``path`` (``.safetensors``).

    ``target`` describes what ``model`` predicts: ``{"name", "log", "mean", "std"}`` of the standardised target.
    ``held_out``: ``Checkpoint.held_out``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays, inputs_spec = inputs.state()
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"inputs.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    tensors.update({f"held_out.{k}": torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)) for k, v in (held_out or {}).items()})
    spec = {
        "format_version": FORMAT_VERSION, "package": "pel_torch", "package_version": __version__,
        "library_versions": {name: _version(name) for name in LIBRARIES},
        "task": task, "stage": stage, "target": target, "feature_names": list(inputs.feature_names_),
        "model": blend_spec(model), "inputs": inputs_spec, "extra": extra or {},
        "checksum": _checksum(tensors),
    }
    with atomic_output(path) as temporary:
        save_file(tensors, temporary, metadata={"spec": json.dumps(spec)})
    return path


def load_checkpoint(path: str | Path, task, *, feature_names: list[str] | None = None, device: str = "cpu") -> Checkpoint:
    """Read a checkpoint of ``task`` (a ``Task``; its ``load_inputs`` rebuilds the input builder);
    with ``feature_names``, refuse one made for other inputs."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train one first (python train.py stage=...) or fix ckpt_path")
    spec, tensors = _read(path)
    found = spec.get("format_version", 0)
    if found > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written in checkpoint format {found} by pel_torch "
                              f"{spec.get('package_version')}; this pel_torch {__version__} reads format {FORMAT_VERSION}: upgrade pel_torch")
    if found < FORMAT_VERSION:
        raise CheckpointError(f"{path}: written in checkpoint format {found}, before pel_torch had tasks and one flat head; "
                              "retrain it (python train.py stage=...)")
    if spec["task"] != task.name:
        raise CheckpointError(f"{path}: a checkpoint of task '{spec['task']}', not '{task.name}'; "
                              f"run with task={spec['task']} or give a {task.name} checkpoint")
    if _checksum(tensors) != spec.get("checksum"):
        raise CheckpointError(f"{path}: checkpoint is corrupted (tensor checksum mismatch); restore it or retrain")
    if feature_names is not None and list(feature_names) != spec["feature_names"]:
        raise CheckpointError(f"{path}: made for other features ({_feature_difference(spec['feature_names'], feature_names)}); "
                              "use the checkpoint's own featurizer settings or retrain")
    model_tensors = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    model = build_blend(spec["model"]).to(model_tensors["head.weights"].dtype)
    model.load_state_dict(model_tensors, strict=True)
    arrays = {k.removeprefix("inputs."): v.numpy() for k, v in tensors.items() if k.startswith("inputs.")}
    held_out = {k.removeprefix("held_out."): v.numpy() for k, v in tensors.items() if k.startswith("held_out.")}
    return Checkpoint(model.to(device).eval(), task.load_inputs(arrays, spec["inputs"]), spec, path, held_out)


def resolve_checkpoint(cfg, stage: str) -> Path:
    """``cfg.ckpt_path``, or the newest checkpoint of ``stage`` under ``cfg.checkpoints_dir``."""
    if cfg.ckpt_path:
        return Path(cfg.ckpt_path)
    candidates = sorted(Path(cfg.checkpoints_dir, stage).glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        others = [other for other in ("finetune", "scratch") if other != stage and any(Path(cfg.checkpoints_dir, other).glob("*.safetensors"))]
        hint = "".join(f", or evaluate_stage={other} for the newest {other} checkpoint" for other in others)
        raise CheckpointError(f"no {stage} checkpoint under {Path(cfg.checkpoints_dir, stage)}; "
                              f"run python train.py stage={stage} first or pass ckpt_path={hint}")
    return candidates[-1]


# What a stage's fit depends on, beside its own config section and the task's own keys: a report reuses a
# checkpoint fitted with the same.
FIT_KEYS = ("task", "data", "split", "seed", "features", "stack")


def reusable_checkpoint(cfg, task, stage: str) -> Path | None:
    """The newest ``stage`` checkpoint under ``cfg.checkpoints_dir`` whose training config matches ``cfg`` where the
    fit depends on it (``FIT_KEYS`` and ``task.config_keys``) and whose inputs have the task's ``input_version``,
    or None: a report that stopped halfway continues instead of refitting."""
    def settings(config: dict) -> dict:
        keys = (FIT_KEYS + tuple(task.config_keys) + (("pretrain",) if stage != "scratch" else ())
                + (("finetune",) if stage == "finetune" else ()))
        chosen = {key: config.get(key) for key in keys}
        if chosen.get("finetune"):   # which scratch stack heads it is a path, not a setting
            chosen["finetune"] = {k: v for k, v in chosen["finetune"].items() if k != "blend_ckpt"}
        return chosen

    want = settings(OmegaConf.to_container(cfg, resolve=True))
    for path in sorted(Path(cfg.checkpoints_dir, stage).glob("*.safetensors"), reverse=True):
        spec = read_spec(path)
        # the same settings fitted by an older input layout are another model
        layout = task.input_version is None or spec.get("inputs", {}).get("version") == task.input_version
        if layout and settings(spec["extra"].get("config", {})) == want:
            log.info("reusing %s, fitted with these settings", path)
            return path
    return None


def read_spec(path: str | Path) -> dict:
    """A checkpoint's JSON spec alone, without its tensors: what it was trained on and how."""
    try:
        with safe_open(path, framework="pt") as file:
            return json.loads((file.metadata() or {})["spec"])
    except (SafetensorError, OSError, KeyError, ValueError) as err:
        raise _unreadable(path, err) from None


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    spec = read_spec(path)
    try:
        return spec, load_file(path)
    except (SafetensorError, OSError) as err:
        raise _unreadable(path, err) from None


def _unreadable(path, err: Exception) -> CheckpointError:
    return CheckpointError(f"{path}: not a readable pel_torch checkpoint ({type(err).__name__}: {str(err)[:80]}); "
                           "the file is truncated, corrupted or of another kind")


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        # The bytes through numpy: an empty tensor (a feature group a table lacks) has no byte view in torch.
        digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _feature_difference(saved: list[str], given: list[str]) -> str:
    missing, extra = [n for n in saved if n not in set(given)], [n for n in given if n not in set(saved)]
    if missing or extra:
        return f"{len(saved)} saved vs {len(given)} given; missing {missing[:3]}, unexpected {extra[:3]}"
    return f"same {len(saved)} names in another order"


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
