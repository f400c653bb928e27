"""Cooldowns branched from one checkpoint of a stable run (warmup-stable-decay without a fixed end).

A digits classifier trains with a short warmup and then a constant ("stable") learning rate,
saving a checkpoint at the end of every epoch. From the checkpoint at step ``K`` two fits are
branched, each adding a :class:`~lightning_schedulers.Cooldown` of the stable schedule:

* ``Cooldown(stable, start="resume", shape="linear")``: from the lr at the resume step to 0, linearly,
  by the end of the branch (``length=None``);
* the same with ``shape="1-sqrt"``.

Neither branch needs the stable run to know where it will end. The script checks that the linear
branch applied, step by step, exactly what one uninterrupted fit with ``start=K`` applies, prints
each run's validation loss at the branches' end, and plots the three learning-rate curves.

Run: ``python examples/branch_cooldowns.py [--out examples/output]`` (about 10 s on 2 CPU cores; no
download: the digits ship inside scikit-learn).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.callbacks.cooldown import Cooldown
from lightning_schedulers.schedules import Constant, Linear, sequence

PEAK = 3e-2
WARMUP = 20  # steps
BATCH = 64
BRANCH_EPOCH = 8  # the checkpoint the cooldowns branch from: the end of this many epochs
BRANCH_EPOCHS = 4  # each cooldown's length, in epochs
STABLE_EPOCHS = 14


class Digits(pl.LightningModule):
    """A small MLP on the flattened 8x8 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=PEAK)


def loaders() -> tuple[DataLoader, DataLoader]:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    split = 1400
    train = DataLoader(TensorDataset(x[:split], y[:split]), batch_size=BATCH)  # fixed order: resumable
    val = DataLoader(TensorDataset(x[split:], y[split:]), batch_size=512)
    return train, val


def stable() -> ls.ScheduleCallback:
    """Warm up for WARMUP steps, then hold PEAK: the stable run's schedule, which never decays by itself."""
    return ls.ScheduleCallback(sequence([Linear(0.0, PEAK, WARMUP), Constant(PEAK)], [WARMUP]))


class Record(pl.Callback):
    """The lr each step trains with, and the validation loss after each epoch."""

    def __init__(self) -> None:
        self.lr: dict[int, float] = {}
        self.val_loss: dict[int, float] = {}

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        self.lr[trainer.global_step] = float(trainer.optimizers[0].param_groups[0]["lr"])

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.val_loss[trainer.global_step] = float(trainer.callback_metrics["val_loss"])


def train(callbacks: list[pl.Callback], max_steps: int, ckpt_path: Path | None = None, **kwargs: Any) -> Record:
    record = Record()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        max_epochs=-1,
        callbacks=[*callbacks, record],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        enable_checkpointing=bool(kwargs.pop("enable_checkpointing", False)),
        **kwargs,
    )
    pl.seed_everything(0, verbose=False)
    train_loader, val_loader = loaders()
    trainer.fit(Digits(), train_loader, val_loader, ckpt_path=ckpt_path)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "output")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    began = time.perf_counter()
    steps_per_epoch = -(-1400 // BATCH)
    k = BRANCH_EPOCH * steps_per_epoch
    end = k + BRANCH_EPOCHS * steps_per_epoch

    with tempfile.TemporaryDirectory() as folder:
        # 1. the stable run, checkpointed at the end of every epoch
        checkpoints = ModelCheckpoint(dirpath=folder, every_n_epochs=1, save_top_k=-1, save_on_train_epoch_end=True)
        runs = {"stable": train([stable(), checkpoints], STABLE_EPOCHS * steps_per_epoch, enable_checkpointing=True)}
        branch_point = Path(folder) / f"epoch={BRANCH_EPOCH - 1}-step={k}.ckpt"
        # 2. two cooldowns branched from step k, each to the end of its fit
        for shape in ("linear", "1-sqrt"):
            runs[shape] = train([Cooldown(stable(), start="resume", shape=shape)], end, ckpt_path=branch_point)
    # 3. the linear branch against one uninterrupted fit that cools down from step k
    straight = train([Cooldown(stable(), start=k, shape="linear")], end)
    same = runs["linear"].lr == {step: lr for step, lr in straight.lr.items() if step >= k}
    same_loss = runs["linear"].val_loss[end] == straight.val_loss[end]

    print(f"stable run: {STABLE_EPOCHS * steps_per_epoch} steps at lr {PEAK} after a {WARMUP}-step warmup")
    for shape in ("linear", "1-sqrt"):
        lr = runs[shape].lr
        print(
            f"cooldown {shape!r} branched at step {k}: {len(lr)} steps, lr {lr[k]:.2e} -> {lr[end - 1]:.2e}, "
            f"val_loss at step {end}: {runs[shape].val_loss[end]:.4f}"
        )
    print(f"stable run, val_loss at step {end}: {runs['stable'].val_loss[end]:.4f}")
    print(
        f"the linear branch applied what an uninterrupted fit with start={k} applies: {same} "
        f"(and reached the same val_loss: {same_loss})"
    )

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, run in runs.items():
        steps = sorted(run.lr)
        ax.plot(steps, [run.lr[s] for s in steps], label=name if name == "stable" else f"cooldown: {name}")
    ax.axvline(k, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("lr")
    ax.set_title(f"cooldowns branched from the checkpoint at step {k}")
    ax.legend()
    fig.tight_layout()
    png = args.out / "branch_cooldowns.png"
    fig.savefig(png, dpi=100)
    print(f"wrote {png} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
