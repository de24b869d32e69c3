"""Checkpoints: tensors in one safetensors file, with a JSON spec in its metadata. No pickle anywhere.

The spec holds the format version, package and library versions, feature names, the stack's
layout, the fitted featurizer's state, the stage and target. A SHA-256 of the tensors catches
corruption that still parses; a truncated file fails to parse. Either way the user gets one line.
"""

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pel_torch import __version__
from pel_torch.atomic import atomic_output
from pel_torch.errors import PelError
from pel_torch.features import FilmFeaturizer
from pel_torch.stack.build import build_forecaster, forecaster_spec
from pel_torch.stack.forecaster import Forecaster

FORMAT_VERSION = 1
LIBRARIES = ("torch", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost", "catboost")


class CheckpointError(PelError):
    """A checkpoint that cannot be used: missing, corrupted, from the future, or for other features."""


@dataclass
class Checkpoint:
    model: Forecaster
    featurizer: FilmFeaturizer
    spec: dict
    path: Path

    @property
    def stack(self):
        return self.model.stack

    @property
    def feature_names(self) -> list[str]:
        return self.spec["feature_names"]


def save_checkpoint(path: str | Path, model: Forecaster, featurizer: FilmFeaturizer, *, stage: str, target: dict,
                    extra: dict | None = None) -> Path:
    """Write ``model`` and ``featurizer`` atomically to ``path`` (a ``.safetensors`` file).

    ``target`` describes what the model predicts: ``{"name", "log", "mean", "std"}`` of the standardised target.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays, featurizer_spec = featurizer.state()
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"featurizer.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
    spec = {
        "format_version": FORMAT_VERSION, "package": "pel_torch", "package_version": __version__,
        "library_versions": {name: _version(name) for name in LIBRARIES},
        "stage": stage, "target": target, "feature_names": featurizer.feature_names_,
        "model": forecaster_spec(model), "featurizer": featurizer_spec, "extra": extra or {},
        "checksum": _checksum(tensors),
    }
    with atomic_output(path) as temporary:
        save_file(tensors, temporary, metadata={"spec": json.dumps(spec)})
    return path


def load_checkpoint(path: str | Path, *, feature_names: list[str] | None = None, device: str = "cpu") -> Checkpoint:
    """Read a checkpoint; with ``feature_names``, refuse one made for other features."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; train one first (python train.py stage=...) or fix ckpt_path")
    spec, tensors = _read(path)
    if spec.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written in checkpoint format {spec['format_version']} by pel_torch "
                              f"{spec.get('package_version')}; this pel_torch {__version__} reads format {FORMAT_VERSION}: upgrade pel_torch")
    if _checksum(tensors) != spec.get("checksum"):
        raise CheckpointError(f"{path}: checkpoint is corrupted (tensor checksum mismatch); restore it or retrain")
    if feature_names is not None and list(feature_names) != spec["feature_names"]:
        raise CheckpointError(f"{path}: made for other features ({_feature_difference(spec['feature_names'], feature_names)}); "
                              "use the checkpoint's own featurizer settings or retrain")
    model = build_forecaster(spec["model"])
    model_tensors = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    model = model.to(model_tensors["stack.head.weights"].dtype)
    model.load_state_dict(model_tensors, strict=True)
    arrays = {k.removeprefix("featurizer."): v.numpy() for k, v in tensors.items() if k.startswith("featurizer.")}
    featurizer = FilmFeaturizer.from_state(arrays, spec["featurizer"])
    return Checkpoint(model.to(device).eval(), featurizer, spec, path)


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    try:
        tensors = load_file(path)
        from safetensors import safe_open

        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
        spec = json.loads(metadata["spec"])
    except (SafetensorError, OSError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable pel_torch checkpoint ({type(err).__name__}: {str(err)[:80]}); "
                              "the file is truncated, corrupted or of another kind") from None
    return spec, tensors


def _checksum(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
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
