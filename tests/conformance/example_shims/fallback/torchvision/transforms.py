"""``Compose``, ``ToTensor`` and ``Normalize`` as the example scripts use them."""

import numpy as np
import torch


class Compose:
    def __init__(self, steps):
        self.steps = list(steps)

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


class Resize:
    def __init__(self, size, antialias=True):
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, image):
        return image.resize(self.size[::-1])


class RandomHorizontalFlip:
    def __call__(self, image):
        return image


class ToTensor:
    def __call__(self, image):
        array = np.asarray(image, dtype=np.float32) / 255.0
        return torch.from_numpy(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))


class Normalize:
    def __init__(self, mean, std):
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __call__(self, tensor):
        return (tensor - self.mean) / self.std
