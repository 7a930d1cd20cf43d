"""A stand-in for torchvision where it does not load (beside the CPU build of torch used here):
the datasets the W&B example scripts use (synthetic, see sitecustomize) and their transforms."""

from torchvision import datasets, transforms  # noqa: F401

__version__ = "0.20.0"
