"""A hand-written Fabric loop scheduled by this package: no Trainer.

A small MLP on scikit-learn's digits. One callback drives the lr (linear warmup + cosine) and the
weight decay (a cosine) of AdamW; ``callback.bind(optimizer, total_steps=...)`` binds it to the
loop, ``bound.step()`` after each optimizer step writes the next values. Half-way the run is saved
with ``fabric.save`` and a fresh model, optimizer and schedule are loaded with ``fabric.load``:
the resumed half applies exactly what an uninterrupted run applies (checked at the end), and the
applied values are plotted to ``examples/output/fabric_loop.png``.

Run: ``python examples/fabric_loop.py [--epochs 6] [--out examples/output]`` (about 10 s on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from lightning.fabric import Fabric
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.schedules import Cosine

BATCH = 64


def data() -> DataLoader:
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0))


def schedule(total: int) -> ls.ScheduleCallback:
    from lightning_schedulers import presets

    return ls.ScheduleCallback(
        {
            "lr": presets.warmup_cosine(3e-3, total, warmup_steps=total // 10, floor=3e-5),
            "weight_decay": Cosine(0.05, 0.005, total),
        }
    )


def train(
    fabric: Fabric, epochs: int, stop_at: int | None = None, checkpoint: Path | None = None, resume: bool = False
) -> tuple[list[list[float]], int]:
    """Train (resumed from ``checkpoint``, or saving it when stopped at ``stop_at``); return the values applied."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, optimizer = fabric.setup(model, optimizer)
    loader = fabric.setup_dataloaders(data())
    total = epochs * len(loader)
    bound = schedule(total).bind(optimizer, total_steps=total)
    state = {"model": model, "optimizer": optimizer, "schedule": bound}
    if resume and checkpoint is not None:
        fabric.load(checkpoint, state)  # the model, the optimizer and the schedule's position
    applied: list[list[float]] = []
    loss = torch.zeros(())
    step = 0
    for epoch in range(epochs):
        for x, y in loader:
            if step < bound.steps:  # already trained before the checkpoint
                step += 1
                continue
            if step == stop_at:  # the run is killed here, after saving
                if checkpoint is not None:
                    fabric.save(checkpoint, state)
                return applied, step
            group = optimizer.param_groups[0]
            applied.append([group["lr"], group["weight_decay"]])
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            bound.step()
            step += 1
        if applied:
            fabric.print(f"epoch {epoch}: loss {loss.item():.3f}, lr {optimizer.param_groups[0]['lr']:.2e}")
    return applied, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("output"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    fabric = Fabric(accelerator="cpu", devices=1)
    uninterrupted, total = train(fabric, args.epochs)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder, "half.ckpt")
        first, half = train(fabric, args.epochs, stop_at=total // 2, checkpoint=checkpoint)
        second, _ = train(fabric, args.epochs, checkpoint=checkpoint, resume=True)
    assert first + second == uninterrupted, "the resumed run applied other values"
    print(f"{total} steps; the run resumed at step {half} applied exactly what the uninterrupted one did")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, column, name in zip(axes, range(2), ("lr", "weight_decay"), strict=True):
        ax.plot([row[column] for row in uninterrupted], label="uninterrupted")
        ax.plot(range(half, total), [row[column] for row in second], "--", label=f"resumed from step {half}")
        ax.set_title(name)
        ax.set_xlabel("optimizer step")
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "fabric_loop.png", dpi=100)
    print(f"wrote {args.out / 'fabric_loop.png'}")


if __name__ == "__main__":
    main()
