"""A fitted model as a standalone ``torch.export`` program: it runs with torch alone.

The program maps raw inputs ``(batch, n_inputs)`` float64, in the checkpoint's ``feature_names``,
to the standardised target ``(batch,)`` (box office: log1p revenue); the target scale is stored
beside it so a user without pel_torch can turn that into the target's units. Building the inputs
from a table still needs pel_torch (the task's input builder).
"""

import copy
import json
from pathlib import Path

import torch

from pel_torch.atomic import atomic_output, check_new_output
from pel_torch.checkpoint import Checkpoint
from pel_torch.compile.kernels import TORCH
from pel_torch.errors import PelError
from pel_torch.inference import set_kernel


def export_checkpoint(checkpoint: Checkpoint, output: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``checkpoint``'s model to ``output`` (``.pt2``) with a batch dimension of any size."""
    output = Path(output)
    if output.suffix != ".pt2":
        raise PelError(f"{output}: an exported program is written as .pt2; use a .pt2 output path")
    check_new_output(output, overwrite=overwrite)
    # Tracing must see plain torch ops, not the C++ kernels a caller may have switched on.
    model = set_kernel(copy.deepcopy(checkpoint.model).cpu().eval(), TORCH)
    example = torch.zeros(4, len(checkpoint.feature_names), dtype=torch.float64)
    with torch.no_grad():
        program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    extra = {"meta.json": json.dumps({"feature_names": checkpoint.feature_names, "task": checkpoint.spec["task"],
                                      "target": checkpoint.spec["target"], "stage": checkpoint.spec["stage"],
                                      "source_checkpoint": str(checkpoint.path)})}
    with atomic_output(output) as temporary, open(temporary, "wb") as file:
        torch.export.save(program, file, extra_files=extra)
    return output


def load_exported(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The exported program as a callable module, and its metadata (feature names, target scale)."""
    extra = {"meta.json": ""}
    program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra["meta.json"])
