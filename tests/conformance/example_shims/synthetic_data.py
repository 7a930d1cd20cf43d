"""The data the W&B example scripts would download, made locally: MNIST-shaped images and the
LightGBM example's regression table."""

import io

import numpy as np


class Digits:
    """An MNIST-like dataset: 28x28 grey PIL images whose class sets a bright bar's row."""

    def __init__(self, root=None, train=True, download=False, transform=None, target_transform=None):
        from PIL import Image

        rng = np.random.default_rng(0 if train else 1)
        n = 512 if train else 256
        self.targets = rng.integers(0, 10, n)
        data = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        for i, t in enumerate(self.targets):
            data[i, 2 + 2 * t: 4 + 2 * t, 4:24] = 255
        self.data = data
        self.images = [Image.fromarray(a, mode="L") for a in data]
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        x, y = self.images[i], int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


def regression_table(url):
    """The LightGBM example's regression.train / regression.test (a target and 28 features, tab separated)."""
    rng = np.random.default_rng(0 if url.endswith(".train") else 1)
    n = 500 if url.endswith(".train") else 200
    x = rng.normal(size=(n, 28))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    out = io.StringIO()
    np.savetxt(out, np.column_stack([y, x]), delimiter="\t", fmt="%.6f")
    return out.getvalue().encode()
