"""pel_torch: P-EL box-office forecasting with a stack compiled to one PyTorch module."""

__version__ = "0.1.0"
