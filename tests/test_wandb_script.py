"""A typical W&B training script runs unchanged with `import tracker as wandb`."""

from __future__ import annotations

import subprocess
import textwrap

import tracker
from tests.conftest import PYTHON, python_env

SCRIPT = textwrap.dedent(
    """
    import argparse
    import random

    import numpy as np
    import tracker as wandb

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    wandb.init(project="compat", config=args, tags=["script"], notes="ported from W&B")
    wandb.config.update({"arch": "mlp"})
    wandb.define_metric("epoch")
    wandb.define_metric("val/*", step_metric="epoch", summary="max")
    for epoch in range(wandb.config.epochs):
        for batch in range(20):
            loss = np.float32(1.0 / (epoch * 20 + batch + 1))
            wandb.log({"train/loss": loss, "train/grad": {"norm": np.random.rand()}})
        wandb.log({"val/acc": 0.5 + 0.1 * epoch, "epoch": epoch})
    wandb.run.summary["final_loss"] = float(loss)
    print(wandb.run.path)
    wandb.finish()
    """
)


def test_typical_wandb_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [PYTHON, str(script), "--lr", "0.1"], env=python_env(TRACKER_DIR=str(tmp_path / "store")),
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    run = tracker.Api(dir=tmp_path / "store").run(out.stdout.strip())
    assert run.state == "finished" and run.tags == ["script"] and run.notes == "ported from W&B"
    assert run.config == {"lr": 0.1, "epochs": 3, "arch": "mlp"}
    assert run.summary["val/acc"] == 0.7 and run.summary["final_loss"] > 0
    frame = run.history(keys=["val/acc"], x_axis="epoch")
    assert frame["epoch"].tolist() == [0, 1, 2]
    assert len(run.history()) == 63 and "train/grad/norm" in run.history().columns
    assert run.metadata["program"].endswith("train.py") and run.metadata["args"] == ["--lr", "0.1"]
