"""Batched inference with a compiled stack: which tree kernels run, and bounded memory whatever the number of rows."""

import logging

import numpy as np
import torch
from torch import nn

from pel_torch.compile.cpu_kernels import tree_kernels
from pel_torch.compile.kernels import COMPILED, CPP, TORCH, Kernel
from pel_torch.compile.tree_modules import ObliviousEnsemble, PerfectTreeEnsemble, TreeEnsemble
from pel_torch.errors import PelError

log = logging.getLogger(__name__)

# auto: the C++ kernels on CPU when they build, else the torch kernels (with a warning).
KERNELS = ("auto", "cpp", "torch", "compiled")

# Eager torch kernels keep (batch, n_trees) index tensors per level: at 1,024 rows they stay in cache.
# Measured on the default stack, 2 threads: 1,650 rows/s at 1,024, 1,080 at 4,096, 380 at 16,384
# (docs/benchmarks.md). The C++ and compiled kernels prefer large batches (8,192).
EAGER_BATCH_SIZE = 1024
LARGE_BATCH_SIZE = 8192


def set_kernel(module: nn.Module, kernel: Kernel) -> nn.Module:
    """Every tree module inside ``module`` traverses with ``kernel``, in place; returns ``module``."""
    for child in _tree_modules(module):
        child.kernel = kernel
    return module


def compile_trees(module: nn.Module) -> nn.Module:
    """``torch.compile`` every tree module inside ``module``, in place, and return it.

    Inductor fuses each kernel's gathers and comparisons into one C++ loop on CPU (a C++ compiler
    is needed) or a Triton kernel on GPU. Modules are compiled one by one: a whole-stack graph took
    minutes and crashed GCC 12. Shapes are static, so callers must keep the batch size fixed
    (``predict_batches`` pads the last batch); each new shape costs a recompile.
    """
    for child in _tree_modules(set_kernel(module, COMPILED)):
        child.compile(dynamic=False)
    return module


def _tree_modules(module: nn.Module) -> list[nn.Module]:
    return [child for child in module.modules() if isinstance(child, (TreeEnsemble, PerfectTreeEnsemble, ObliviousEnsemble))]


def select_kernels(module: nn.Module, kernels: str = "auto", device: str | torch.device = "cpu") -> tuple[nn.Module, str]:
    """``module`` moved to ``device`` with its tree kernels chosen, in place, and the kind in use:
    ``cpp`` (C++ traversal, CPU only), ``torch`` (plain torch ops, any device) or ``compiled``
    (``torch.compile``). ``auto`` is ``cpp`` on CPU when the kernels build, else ``torch``.

    The C++ kernels serve fine-tuning too (leaf gradients are those of the torch kernels).
    """
    if kernels not in KERNELS:
        raise PelError(f"kernels={kernels}: choose one of {', '.join(KERNELS)}")
    on_cpu = torch.device(device).type == "cpu"
    if kernels == "cpp" and not on_cpu:
        raise PelError(f"kernels=cpp runs on the CPU only; with device={device} use kernels=torch or kernels=compiled")
    module = module.to(device)
    if kernels == "compiled":
        return compile_trees(module), "compiled"
    if kernels == "torch" or not on_cpu:
        return set_kernel(module, TORCH), "torch"
    try:
        tree_kernels()  # built on first use; PelError where it cannot be
        return set_kernel(module, CPP), "cpp"
    except PelError as error:
        if kernels == "cpp":
            raise
        log.warning("%s; scoring with the torch kernels, about 7x slower", error)
        return set_kernel(module, TORCH), "torch"


def select_training_kernels(module: nn.Module, kernels: str = "auto") -> nn.Module:
    """``module`` on the CPU with the kernels to fit and validate with: the C++ kernels speed up
    fine-tuning too (leaf gradients are unchanged); ``torch.compile`` is for inference only, so
    ``kernels=compiled`` fits with ``auto``."""
    return select_kernels(module, "auto" if kernels == "compiled" else kernels)[0]


def preferred_batch_size(module: nn.Module) -> int:
    """Rows per forward for ``module``'s kernels: small for eager torch, large for C++ or compiled."""
    fast = any(child.kernel.large_batches for child in _tree_modules(module))
    return LARGE_BATCH_SIZE if fast else EAGER_BATCH_SIZE


def predict_batches(module: nn.Module, raw: np.ndarray, *, batch_size: int | None = None, device: str | torch.device = "cpu",
                    pad: bool = False) -> np.ndarray:
    """``module`` on ``raw`` ``(n, n_features)`` float64 in batches; returns ``(n,)`` float64 on the CPU.

    ``batch_size``: rows per forward, by default the kernels' preferred size. ``pad``: fill the last
    batch up to ``batch_size`` (with copies of its first row), so a module compiled for one shape
    never recompiles.
    """
    batch_size = batch_size or preferred_batch_size(module)
    module = module.to(device).eval()
    out = np.empty(len(raw), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(raw), batch_size):
            rows = raw[start:start + batch_size]
            if pad and len(rows) < batch_size:
                rows = np.concatenate([rows, np.repeat(rows[:1], batch_size - len(rows), axis=0)])
            n = min(batch_size, len(raw) - start)
            out[start:start + n] = module(torch.from_numpy(rows).to(device)).double().cpu().numpy()[:n]
    return out


def learner_predictions(member: nn.Module, raw: np.ndarray, *, batch_size: int = LARGE_BATCH_SIZE) -> dict[str, np.ndarray]:
    """Every learner of a compiled ``ScaledStack`` on ``raw`` ``(n, n_features)``: ``{"layer k name": (n,)}`` float64,
    read from the module itself (as its stack computes them, before its head), in batches of bounded memory."""
    stack = member.stack
    with torch.inference_mode():
        batches = [stack.layer_outputs(member.stack_inputs(torch.from_numpy(raw[start:start + batch_size])))
                   for start in range(0, len(raw), batch_size)]
    predictions = {}
    for depth, layer in enumerate(stack.layers):
        outputs = torch.cat([batch[depth] for batch in batches]).double().numpy()
        predictions.update({f"layer {depth + 1} {name}": outputs[:, j] for j, name in enumerate(layer.names)})
    return predictions


def validation_predictions(model: nn.Module, raw_val: np.ndarray, held_out: dict[str, np.ndarray], **options) -> np.ndarray:
    """``model`` on the validation rows ``raw_val``; where its members were refitted on those rows (``held_out``,
    ``Checkpoint.held_out``, not empty), the kept prediction of the members its head was chosen with instead."""
    return held_out["model"] if held_out else predict_batches(model, raw_val, **options)


def validation_learner_predictions(member: nn.Module, raw_val: np.ndarray, held_out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``learner_predictions`` on the validation rows, or the kept ones where there was a refit (``validation_predictions``)."""
    return {name: p for name, p in held_out.items() if name != "model"} if held_out else learner_predictions(member, raw_val)
