"""A stand-in for torchvision's data loading in the W&B example scripts (no network, no download):
MNIST and FashionMNIST made of small synthetic images, and the transforms those scripts use."""

from torchvision import datasets, transforms  # noqa: F401

__version__ = "0.20.0"
