"""One thread budget for every library: on 2 cores, two libraries that each take all cores run 20-40x slower."""

from threadpoolctl import threadpool_limits

from pel_torch.errors import PelError


def limit_threads(threads: int) -> None:
    """Cap the BLAS and OpenMP pools already loaded, and torch's, at ``threads``; learners pass the
    same number to their libraries. Environment variables would not do: a pool reads them once, when
    numpy or torch starts."""
    if threads < 1:
        raise PelError(f"threads={threads}: must be at least 1")
    threadpool_limits(threads)
    import torch

    torch.set_num_threads(threads)
