"""Data loading for the W&B example scripts, which download their data (no network here): loaded
first by every script the harness runs (this folder leads PYTHONPATH).

- torchvision's MNIST and FashionMNIST become small synthetic datasets; where torchvision is not
  installed (it does not load beside the CPU build of torch used here), a minimal stand-in package
  with those datasets and the transforms the scripts use takes its place (``fallback/``);
- ``requests.get`` of the LightGBM example's data files answers with a synthetic table (any other
  URL goes to the real ``requests``).
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))

try:
    import torchvision  # noqa: F401 - the real package, when it loads
except Exception:  # noqa: BLE001 - missing, or a binary that does not match torch
    sys.modules.pop("torchvision", None)
    sys.path.insert(0, os.path.join(_here, "fallback"))
    import torchvision  # noqa: F401, F811

import synthetic_data  # noqa: E402 - after the torchvision fallback is on the path
import torchvision.datasets  # noqa: E402

torchvision.datasets.MNIST = type("MNIST", (synthetic_data.Digits,), {})
torchvision.datasets.FashionMNIST = type("FashionMNIST", (synthetic_data.Digits,), {})

try:
    import requests
except ImportError:
    requests = None
if requests is not None:
    _get = requests.get

    class _Response:
        status_code = 200

        def __init__(self, content):
            self.content = content

    def get(url, *args, **kwargs):
        if "LightGBM" in url and url.endswith((".train", ".test")):
            return _Response(synthetic_data.regression_table(url))
        return _get(url, *args, **kwargs)

    requests.get = get
