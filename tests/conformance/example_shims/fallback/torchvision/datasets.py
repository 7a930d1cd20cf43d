"""MNIST and FashionMNIST (replaced by synthetic data in sitecustomize)."""

from synthetic_data import Digits


class MNIST(Digits):
    pass


class FashionMNIST(Digits):
    pass
