"""A digits classifier killed mid-epoch and resumed: the resumed fit applies exactly what an uninterrupted one does.

* the learning rate warms up linearly over the first 5 % of the fit, and is halved whenever the
  validation accuracy (torchmetrics, ``mode="max"``) has not improved for 2 validations;
* the weight decay follows its own schedule (a cosine from 1e-4 up to 1e-2 over the fit);
* both are logged to TensorBoard and CSV.

The script runs the fit twice: once straight through, once killed at a step in the middle of an
epoch and resumed from the checkpoint saved just before, with freshly built callbacks. It compares,
batch by batch, the lr and weight decay the optimizer held in both runs, prints the result and
writes a PNG of the applied values.

Run: ``python examples/digits_classifier.py [--epochs 12] [--out examples/output]`` (no download:
the digits ship inside scikit-learn).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torchmetrics
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.schedules import Cosine


class DigitsClassifier(pl.LightningModule):
    """A small convolutional network on the 8x8 digits."""

    def __init__(self, lr: float = 3e-3) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
        self.accuracy = torchmetrics.classification.MulticlassAccuracy(num_classes=10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.accuracy(self(x), y)
        self.log("val_acc", self.accuracy)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)


class Applied(pl.Callback):
    """Ground truth: what the optimizer holds at every batch start (step, lr, weight decay)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float]] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        group = trainer.optimizers[0].param_groups[0]
        self.rows.append((trainer.global_step, float(group["lr"]), float(group["weight_decay"])))


class PreemptedError(RuntimeError):
    """The job was stopped (here, on purpose, at a chosen step)."""


class Kill(pl.Callback):
    """Stops the fit at a given step, in the middle of an epoch, as a preempted job would be."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        if trainer.global_step == self.at_step:
            raise PreemptedError(f"killed at step {self.at_step}")


def schedulers() -> list[pl.Callback]:
    """Built afresh for every run, as a resumed job builds them."""
    warmup = ls.LinearLR(start_factor=0.05, total_iters=0.05, interval="step")
    return [
        ls.ReduceLROnPlateau("val_acc", mode="max", factor=0.5, patience=2, base=warmup),
        ls.ScheduleCallback({"weight_decay": Cosine(1e-4, 1e-2, 1.0)}),
    ]


class ResumableLoader(DataLoader):
    """A fixed-order loader that, restored from a checkpoint, continues the epoch where it stopped.

    Lightning saves and restores the state of a training dataloader that has ``state_dict`` /
    ``load_state_dict`` (as torchdata's ``StatefulDataLoader``); a plain ``DataLoader`` would start
    the interrupted epoch again from its first batch, and the resumed model would see other data.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.yielded, self.skip = 0, 0

    def __iter__(self) -> Any:
        skip, self.skip, self.yielded = self.skip, 0, 0
        for i, batch in enumerate(super().__iter__()):
            self.yielded = i + 1
            if i >= skip:
                yield batch

    def state_dict(self) -> dict[str, int]:
        return {"yielded": self.yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.skip = int(state["yielded"])


def loaders(batch_size: int) -> tuple[DataLoader, DataLoader]:
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1400], order[1400:]
    # A fixed order, and a loader that resumes mid-epoch: the resumed run then sees the same batches.
    train_loader = ResumableLoader(TensorDataset(x[train], y[train]), batch_size=batch_size)
    return train_loader, DataLoader(TensorDataset(x[val], y[val]), batch_size=256)


def fit(args: argparse.Namespace, name: str, extra: list[pl.Callback], ckpt_path: str | None = None) -> Applied:
    pl.seed_everything(0, workers=True)
    applied = Applied()
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        logger=[
            TensorBoardLogger(args.out / "tensorboard", name=name, version=0),
            CSVLogger(args.out / "csv", name=name, version=0),
        ],
        log_every_n_steps=1,
        callbacks=[*schedulers(), applied, *extra],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in extra),
        deterministic=True,
    )
    train_loader, val_loader = loaders(args.batch_size)
    torch.manual_seed(0)
    try:
        trainer.fit(DigitsClassifier(), train_loader, val_loader, ckpt_path=ckpt_path)
    except PreemptedError as stop:
        print(f"{name}: {stop}")
    acc = float(trainer.callback_metrics.get("val_acc", float("nan")))
    print(f"{name}: {len(applied.rows)} batches, val_acc={acc:.4f}, lr now {applied.rows[-1][1]:.3e}")
    return applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output" / "digits")
    args = parser.parse_args()
    # The models are small: one thread is as fast on a quiet machine, and faster on a busy one
    # (a second thread waits for a core that other processes hold).
    torch.set_num_threads(1)
    shutil.rmtree(args.out, ignore_errors=True)  # checkpoints and logs of an earlier run would be mixed in
    start = time.perf_counter()
    steps_per_epoch = -(-1400 // args.batch_size)
    kill_at = steps_per_epoch * (args.epochs // 2) + steps_per_epoch // 3  # mid-epoch, after several reductions
    save_every = kill_at - 1  # the checkpoint right before the kill (a job saving every k steps)

    straight = fit(args, "straight", [])
    checkpoint = ModelCheckpoint(dirpath=args.out / "checkpoints", every_n_train_steps=save_every, save_top_k=-1)
    fit(args, "killed", [checkpoint, Kill(kill_at)])
    saved = args.out / "checkpoints" / f"epoch={save_every // steps_per_epoch}-step={save_every}.ckpt"
    resumed = fit(args, "resumed", [], ckpt_path=str(saved))

    expected = [row for row in straight.rows if row[0] >= save_every]
    same = resumed.rows == expected
    worst = max(
        (max(abs(a[1] - b[1]), abs(a[2] - b[2])) for a, b in zip(resumed.rows, expected, strict=False)), default=0.0
    )
    reductions = sum(1 for a, b in itertools.pairwise(straight.rows) if b[1] < a[1] * 0.75)
    print(
        f"resumed from step {save_every} (killed at {kill_at}): {len(resumed.rows)} batches compared with the "
        f"uninterrupted fit, identical: {same} (largest difference {worst:.3g}); {reductions} plateau reduction(s)"
    )

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, column, title in ((axes[0], 1, "lr"), (axes[1], 2, "weight_decay")):
        ax.plot([r[0] for r in straight.rows], [r[column] for r in straight.rows], label="uninterrupted", linewidth=3)
        ax.plot([r[0] for r in resumed.rows], [r[column] for r in resumed.rows], label="resumed", linestyle="--")
        ax.axvline(save_every, color="grey", linewidth=0.8)
        ax.set_title(f"{title} (applied)")
        ax.set_xlabel("global step")
        ax.legend()
    fig.tight_layout()
    png = args.out / "digits_schedules.png"
    fig.savefig(png, dpi=100)
    print(f"wrote {png} in {time.perf_counter() - start:.1f}s")
    if not same:
        raise SystemExit("the resumed fit did not apply what the uninterrupted one did")


if __name__ == "__main__":
    main()
