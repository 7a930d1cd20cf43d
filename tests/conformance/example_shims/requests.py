"""A stand-in for ``requests.get`` in the W&B example scripts: the LightGBM example downloads its
regression data from GitHub; here the same files are made locally (a target and 28 features, tab
separated)."""

import io

import numpy as np


class _Response:
    def __init__(self, content):
        self.content = content
        self.status_code = 200


def get(url, *args, **kwargs):
    rng = np.random.default_rng(0 if url.endswith(".train") else 1)
    n = 500 if url.endswith(".train") else 200
    x = rng.normal(size=(n, 28))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    out = io.StringIO()
    np.savetxt(out, np.column_stack([y, x]), delimiter="\t", fmt="%.6f")
    return _Response(out.getvalue().encode())
