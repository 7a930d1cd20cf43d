"""``run.watch(model)``: gradient and parameter histograms of a PyTorch model, and its module tree.

PyTorch is imported only when a model is watched, and only when the object is a
``torch.nn.Module``; anything else gives one warning and the run goes on.

- **Parameters** (``log="parameters"`` or ``"all"``): a forward hook on the model logs a histogram of
  every parameter as ``parameters/<name>`` every ``log_freq`` forward passes.
- **Gradients** (``log="gradients"``, the default, or ``"all"``): a hook on every parameter logs the
  histogram of its gradient as ``gradients/<name>`` every ``log_freq`` backward passes. Between
  those, a hook only counts: the step is not slowed by more than a few percent.
- **The module tree** (always): each module's name, type, parameter count and, from the first
  forward pass after ``watch``, the shape of its output, in ``files/model/graph_<idx>.json``
  (``Api().run(path).model_graphs()``; the run page's Model tab draws it).

Histograms are computed on the tensor's own device (``torch.histc``, 64 bins) and join the step
being logged (``commit=False``): they appear at the step of the user's next ``log``. Non-finite
values are left out of the bins.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

LOG_MODES = ("gradients", "parameters", "all", None)
BINS = 64


def is_torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (without importing torch when it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def histogram(tensor: Any) -> tuple[list[float], list[float], int] | None:
    """``(counts, edges, non-finite count)`` of a tensor's values, or None for an empty one."""
    import torch

    flat = tensor.detach().reshape(-1)
    if flat.numel() == 0:
        return None
    if not flat.is_floating_point():
        flat = flat.float()
    finite = torch.isfinite(flat)
    bad = int(flat.numel() - int(finite.sum()))
    if bad:
        flat = flat[finite]
        if flat.numel() == 0:
            return None
    flat = flat.float()
    lo, hi = float(flat.min()), float(flat.max())
    if lo == hi:  # one value: a bin around it
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(flat, bins=BINS, min=lo, max=hi).cpu().tolist()
    step = (hi - lo) / BINS
    edges = [lo + i * step for i in range(BINS)] + [hi]
    return counts, edges, bad


def module_tree(model: Any, shapes: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a model's module tree: name, type, depth, own and total parameters, trainable
    parameters, and the output shape recorded for it (None before a forward pass)."""
    rows = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        total = sum(p.numel() for p in module.parameters())
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        rows.append({"name": name or "(model)", "type": type(module).__name__,
                     "depth": name.count(".") + 1 if name else 0, "params": own, "total_params": total,
                     "trainable_params": trainable, "output_shape": shapes.get(name)})
    return rows


def _shape(output: Any) -> Any:
    if hasattr(output, "shape"):
        return list(output.shape)
    if isinstance(output, (list, tuple)):
        return [_shape(o) for o in output]
    if isinstance(output, dict):
        return {str(k): _shape(v) for k, v in output.items()}
    return type(output).__name__


class Watched:
    """One watched model: its hooks, counters and recorded tree."""

    def __init__(self, model: Any, idx: int, log: str | None, log_freq: int, prefix: str,
                 emit: Callable[[dict[str, Any]], None], files_dir: str,
                 problem: Callable[[tuple[str, ...], str], None]) -> None:
        self.model = model
        self.idx = idx
        self.log = log
        self.log_freq = max(1, int(log_freq))
        self.prefix = prefix
        self.emit = emit
        self.path = os.path.join(files_dir, "model", f"graph_{idx}.json")
        self.problem = problem
        self.handles: list[Any] = []
        self.shape_handles: list[Any] = []
        self.shapes: dict[str, Any] = {}
        self.forwards = 0
        self.backwards: dict[str, int] = {}
        self.failed = False

    def start(self) -> None:
        model = self.model
        if self.log in ("parameters", "all"):
            self.handles.append(model.register_forward_hook(self._on_forward))
        if self.log in ("gradients", "all"):
            named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
            if named:
                self.handles.append(self._grad_hooks(named))
        for name, module in model.named_modules():  # output shapes, from the first forward pass
            self.shape_handles.append(module.register_forward_hook(self._shape_hook(name)))
        self.write_tree()

    def stop(self) -> None:
        for handle in self.handles + self.shape_handles:
            handle.remove()
        self.handles, self.shape_handles = [], []

    def _shape_hook(self, name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            self.shapes[name] = _shape(output)
            if not name:  # the model's own hook runs last: the pass is over
                for handle in self.shape_handles:
                    handle.remove()
                self.shape_handles = []
                self.write_tree()

        return hook

    def write_tree(self) -> None:
        record = {"index": self.idx, "type": type(self.model).__name__, "log": self.log, "log_freq": self.log_freq,
                  "modules": module_tree(self.model, self.shapes)}
        write_tree_record(self.path, record, self.problem)

    def _on_forward(self, module: Any, inputs: Any, output: Any) -> None:
        self.forwards += 1
        if (self.forwards - 1) % self.log_freq:
            return
        hists = {}
        for name, param in module.named_parameters():
            h = self._guarded(histogram, param, f"parameters/{self.prefix}{name}")
            if h is not None:
                hists[f"parameters/{self.prefix}{name}"] = h
        self._emit(hists)

    def _grad_hooks(self, named: list[tuple[str, Any]]) -> Any:
        """One hook for a whole backward pass (``register_multi_grad_hook``: one Python call a pass,
        not one per parameter), or a hook per parameter where torch has no such function."""
        import torch

        multi = getattr(getattr(torch.autograd, "graph", None), "register_multi_grad_hook", None)
        names = [n for n, _ in named]
        if multi is None:  # an old torch: a hook per parameter, each counting its own passes
            return _Handles([p.register_hook(self._grad_hook(n)) for n, p in named])

        def hook(grads: Any) -> None:
            n = self.backwards.get("", 0)
            self.backwards[""] = n + 1
            if n % self.log_freq:
                return
            hists = {}
            for name, grad in zip(names, grads, strict=True):
                if grad is not None:
                    key = f"gradients/{self.prefix}{name}"
                    h = self._guarded(histogram, grad, key)
                    if h is not None:
                        hists[key] = h
            self._emit(hists)

        return multi([p for _, p in named], hook, mode="all")

    def _grad_hook(self, name: str) -> Callable[[Any], None]:
        key = f"gradients/{self.prefix}{name}"

        def hook(grad: Any) -> None:
            n = self.backwards.get(name, 0)
            self.backwards[name] = n + 1
            if n % self.log_freq:
                return None
            h = self._guarded(histogram, grad, key)
            if h is not None:
                self._emit({key: h})
            return None

        return hook

    def _guarded(self, fn: Callable[..., Any], tensor: Any, key: str) -> Any:
        try:
            return fn(tensor)
        except Exception as exc:  # noqa: BLE001 - a histogram that cannot be made never stops training
            self.problem(("watch-histogram", type(exc).__name__), f"watch: no histogram for {key} "
                         f"({type(exc).__name__}: {exc})")
            return None

    def _emit(self, hists: dict[str, Any]) -> None:
        if not hists:
            return
        from tracker.media import Histogram

        data = {}
        for key, (counts, edges, _bad) in hists.items():
            data[key] = Histogram(np_histogram=(counts, edges))
        self.emit(data)


def write_tree_record(path: str, record: dict[str, Any], problem: Callable[[tuple[str, ...], str], None]) -> None:
    """Write one model tree (``files/model/graph_<idx>.json``) whole: readers never see half of it."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError) as exc:
        problem(("watch-write",), f"the module tree of {record.get('type')} could not be written ({exc})")


class _Handles:
    """Several hook handles removed as one."""

    def __init__(self, handles: list[Any]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
