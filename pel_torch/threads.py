"""One thread budget for every library: on 2 cores, two libraries that each take all cores run 20-40x slower."""

import os

from pel_torch.errors import PelError


def limit_threads(threads: int) -> None:
    """Cap OpenMP/BLAS pools and torch at ``threads``; learners read the same number from config."""
    if threads < 1:
        raise PelError(f"threads={threads}: must be at least 1")
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import torch

    torch.set_num_threads(threads)
