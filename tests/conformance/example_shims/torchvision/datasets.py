"""Small synthetic MNIST-shaped datasets: 28x28 grey images whose class sets a bright bar's row."""

import numpy as np


class _Digits:
    def __init__(self, root=None, train=True, download=False, transform=None, target_transform=None):
        rng = np.random.default_rng(0 if train else 1)
        n = 256 if train else 128
        self.targets = rng.integers(0, 10, n)
        self.data = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        for i, t in enumerate(self.targets):
            self.data[i, 2 + 2 * t: 4 + 2 * t, 4:24] = 255
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        x, y = self.data[i], int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


class MNIST(_Digits):
    pass


class FashionMNIST(_Digits):
    pass
