"""The C++ traversal kernels of ``tree_kernels.cpp``, built on first use by torch's extension loader.

Built once per machine and torch version (cached under ``~/.cache/torch_extensions``; about a
minute the first time). Needs a C++ compiler with OpenMP, like ``torch.compile`` on CPU.
"""

import functools
from pathlib import Path

from pel_torch.errors import PelError

SOURCE = Path(__file__).with_name("tree_kernels.cpp")


@functools.cache
def tree_kernels():
    """The built extension, with ``perfect_tree_leaves`` and ``oblivious_tree_leaves``."""
    from torch.utils.cpp_extension import load

    try:
        # -fopenmp: ATen's parallel_for is an OpenMP region compiled into the extension itself.
        return load(name="pel_tree_kernels", sources=[str(SOURCE)], extra_cflags=["-O3", "-fopenmp"],
                    extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as error:  # no compiler, no ninja, a compile error: all end here
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PelError(f"could not build the C++ tree kernels ({reason}); install a C++ compiler (g++ with OpenMP) "
                       "and ninja, or use the torch kernels (predict.kernels=torch)") from error
