"""Fitted learners -> torch modules: our own parsers and tree kernels, checked by parity tests."""

from pel_torch.compile.convert import CONVERTERS, compile_stack, to_torch

__all__ = ["CONVERTERS", "compile_stack", "to_torch"]
