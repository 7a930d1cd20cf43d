"""Demo runs: a small simulated training, so a fresh store has something to show."""

from __future__ import annotations

import math
import random

import tracker


def simulated_training(
    project: str = "demo",
    dir: str | None = None,
    lr: float = 1e-3,
    depth: int = 4,
    steps: int = 500,
    seed: int = 0,
    fail_at: int | None = None,
    tags: list[str] | None = None,
    run_id: str | None = None,
) -> str:
    """Log one run of a fake classifier's training; returns the run's path.

    The loss decays at a rate set by ``lr`` and ``depth``, with noise; validation is logged every
    50 steps into the same step as the training metrics (``commit=False``), and ``val/loss`` keeps
    its minimum as summary. With ``fail_at`` the "training" raises at that step, so the run ends
    ``failed``. With ``run_id``, a run of that id is replaced (the demo is written anew, never
    twice).
    """
    rng = random.Random(seed)
    if run_id is not None:
        _forget(project, run_id, dir)
    config = {"lr": lr, "model": {"depth": depth, "width": 64}, "batch_size": 32, "optimizer": "adam"}
    with tracker.init(
        project=project,
        dir=dir,
        config=config,
        tags=tags or [],
        reinit="create_new",
        id=run_id,
        settings={"quiet": True},
    ) as run:
        run.define_metric("val/loss", summary="min")
        run.define_metric("val/acc", summary="max")
        rate = lr * 1000 * (0.6 + 0.1 * depth)
        for step in range(steps):
            progress = step / steps
            loss = max(0.01, 2.3 * math.exp(-rate * 4 * progress) + 0.05 + rng.gauss(0, 0.03))
            acc = 1 - loss / 2.5 + rng.gauss(0, 0.01)
            if step % 50 == 0:
                run.log({"val": {"loss": loss * 1.1 + 0.02, "acc": acc - 0.03}}, commit=False)
            run.log({"train/loss": loss, "train/acc": acc, "epoch": step // 100, "lr": lr * (1 - progress)})
            if fail_at is not None and step == fail_at:
                raise RuntimeError(f"simulated divergence at step {step}")
        run.summary["best_epoch"] = int(steps // 100) - 1
    return run.path


def _forget(project: str, run_id: str, dir: str | None) -> None:
    """Remove an earlier demo run of this id (demo data only: the ids are the demo's own)."""
    import os
    import shutil

    root = tracker.Settings.load(code=tracker.Settings(dir=dir) if dir else None).root()
    folder = os.path.join(root, project, run_id)
    if os.path.isdir(folder):
        shutil.rmtree(folder)


def make_demo_store(dir: str | None = None, runs: int = 5, steps: int = 500) -> list[str]:
    """Fill a store with ``runs`` demo runs (the last one fails on purpose): runs ``demo-1`` ..
    ``demo-N`` of project ``demo``, replaced when the demo is written again."""
    paths = []
    grid = [(1e-3, 2), (3e-3, 4), (1e-3, 4), (5e-4, 8), (3e-3, 8), (1e-4, 2)]
    for i in range(runs):
        lr, depth = grid[i % len(grid)]
        fail = steps // 2 if i == runs - 1 and runs > 1 else None
        try:
            paths.append(
                simulated_training(
                    dir=dir, lr=lr, depth=depth, steps=steps, seed=i, fail_at=fail,
                    tags=["baseline"] if i == 0 else ["sweep"], run_id=f"demo-{i + 1}",
                )
            )
        except RuntimeError:
            pass  # the failing demo run: its state is "failed"
    return paths
