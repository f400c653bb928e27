"""Run by test_loops_fabric.py in a subprocess: a 2-process CPU Fabric loop (gloo) with a bound schedule.

Each rank trains on its own data, reports its own (different) validation loss to a plateau callback
over a warmup-cosine, saves with ``fabric.save`` mid-run, loads into fresh objects with
``fabric.load`` and continues. It writes the lr it trained each step with to ``OUT/rank{r}.json``.
Usage: ``python tests/fabric_run.py OUT``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from lightning.fabric import Fabric
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import close_process_group

import lightning_schedulers as ls

STEPS, SAVE_AT, EVERY = 24, 10, 4


def make() -> tuple[nn.Module, torch.optim.Optimizer, ls.ReduceLROnPlateau]:
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.AdamW([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.02}], lr=0.01)
    return model, optimizer, ls.ReduceLROnPlateau("val_loss", patience=0, base=ls.WarmupCosineLR(warmup_steps=0.25))


def train(fabric: Fabric, out: str, start: int, stop: int, state: dict[str, Any] | None) -> list[list[float]]:
    model, optimizer, callback = make()
    model, optimizer = fabric.setup(model, optimizer)
    bound = callback.bind(optimizer, total_steps=STEPS)
    checkpoint: dict[str, Any] = {"model": model, "optimizer": optimizer, "schedule": bound}
    if state is not None:
        fabric.load(state["path"], checkpoint)
    rows = []
    g = torch.Generator().manual_seed(fabric.global_rank)
    for step in range(start, stop):
        rows.append([float(group["lr"]) for group in optimizer.param_groups])
        x = torch.randn(8, 4, generator=g)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        fabric.backward(loss)
        optimizer.step()
        done = step + 1
        # Each rank sees another trend: rank 1's loss always improves, rank 0's does not.
        metrics = {"val_loss": 1.0 - 0.01 * done if fabric.global_rank else 1.0 + 0.01 * (done % 8)}
        bound.step(metrics=metrics if done % EVERY == 0 else None)
        if done == SAVE_AT and state is None and stop > SAVE_AT:
            fabric.save(Path(out, "mid.ckpt"), checkpoint)
    return rows


def main(fabric: Fabric, out: str) -> None:
    full = train(fabric, out, 0, STEPS, None)  # saves at step SAVE_AT
    fabric.barrier()
    tail = train(fabric, out, SAVE_AT, STEPS, {"path": Path(out, "mid.ckpt")})
    payload = {"full": full, "tail": tail, "world_size": fabric.world_size}
    Path(out, f"rank{fabric.global_rank}.json").write_text(json.dumps(payload))
    # Together, before the workers exit: a worker that exits with gloo's group alive can abort in
    # its thread destructors (SIGABRT) after every value was right.
    close_process_group()


if __name__ == "__main__":
    fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp_spawn")
    fabric.launch(main, sys.argv[1])
