"""Train a small VAE on scikit-learn's bundled digits with two schedules on one callback.

* the learning rate follows a linear warmup and then a cosine decay to a floor;
* the KL weight of the loss (a plain attribute of the LightningModule) warms up from 0 to 1.

Both are applied by one ``ScheduleCallback`` at every optimizer step and logged to CSV. After the
fit the script reads the applied values back from the CSV log, checks them against the
callback's ``simulate`` (the preview is exactly what the fit applied) and writes a PNG plot.

Run: ``python examples/vae_digits.py [--epochs 30] [--out examples/output]`` (7-12 s on
2 CPU cores; no download, the digits ship inside scikit-learn).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import lightning.pytorch as pl
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchmetrics
from lightning.pytorch.loggers import CSVLogger
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_schedulers import Attribute, ScheduleCallback
from lightning_schedulers.schedules import Cosine, Linear, sequence


class DigitsVAE(pl.LightningModule):
    def __init__(self, latent: int = 8, hidden: int = 128, lr: float = 2e-3) -> None:
        super().__init__()
        self.lr = lr
        self.kl_weight = 0.0  # scheduled by the callback; read in every training step
        self.encoder = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64))
        self.val_mse = torchmetrics.MeanSquaredError()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar

    def training_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> torch.Tensor:
        (x,) = batch
        logits, mu, logvar = self(x)
        recon = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
        loss = recon + self.kl_weight * kl
        self.log_dict({"train/recon": recon, "train/kl": kl}, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> None:
        (x,) = batch
        logits, _, _ = self(x)
        self.val_mse(torch.sigmoid(logits), x)
        self.log("val/mse", self.val_mse, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=1e-4)


def read_applied(metrics_csv: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """The scheduled values the CSV log holds, by step."""
    steps: dict[str, list[tuple[int, float]]] = {c: [] for c in columns}
    with open(metrics_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            for c in columns:
                if row.get(c):
                    steps[c].append((int(row["step"]), float(row[c])))
    return {c: np.array(v) for c, v in steps.items()}


class Progress(pl.Callback):
    """One line per epoch: what the schedules hold, the validation error, the time so far."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        mse = float(trainer.callback_metrics.get("val/mse", float("nan")))
        print(
            f"epoch {trainer.current_epoch + 1:>3}/{trainer.max_epochs}  lr={lr:.2e}  "
            f"kl_weight={pl_module.kl_weight:.3f}  val/mse={mse:.4f}  {time.perf_counter() - self.start:5.1f}s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "output")
    args = parser.parse_args()
    pl.seed_everything(0, workers=True)
    # The models are small: one thread is as fast on a quiet machine, and faster on a busy one
    # (a second thread waits for a core that other processes hold).
    torch.set_num_threads(1)

    digits = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    perm = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    train, val = digits[perm[:1500]], digits[perm[1500:]]
    train_loader = DataLoader(TensorDataset(train), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(val), batch_size=256)

    steps = args.epochs * len(train_loader)
    warmup = max(1, steps // 20)
    lr = sequence([Linear(0.0, 2e-3, warmup), Cosine(2e-3, 2e-5, steps - warmup)], durations=[warmup])
    kl_weight = Linear(0.0, 1.0, steps // 3)
    scheduler = ScheduleCallback({"lr": lr, Attribute("kl_weight"): kl_weight}, interval="step")

    logger = CSVLogger(args.out, name="vae_digits", version=0)
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        devices=1,
        logger=logger,
        log_every_n_steps=1,
        callbacks=[scheduler, Progress()],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    start = time.perf_counter()
    trainer.fit(DigitsVAE(), train_loader, val_loader)
    elapsed = time.perf_counter() - start

    applied = read_applied(Path(logger.log_dir) / "metrics.csv", ["lr-AdamW", "kl_weight"])
    preview = scheduler.simulate(steps)
    for j, name in enumerate(["lr-AdamW", "kl_weight"]):
        logged_steps = applied[name][:, 0].astype(int)
        worst = float(np.max(np.abs(applied[name][:, 1] - preview[logged_steps, j])))
        print(f"{name}: {len(logged_steps)} logged values, max |logged - simulate| = {worst:.3g}")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, name in zip(axes, ["lr-AdamW", "kl_weight"], strict=True):
        ax.plot(applied[name][:, 0], applied[name][:, 1])
        ax.set_title(f"{name} (applied, read back from the CSV log)")
        ax.set_xlabel("global step")
    fig.tight_layout()
    png = args.out / "vae_digits_schedules.png"
    fig.savefig(png, dpi=100)
    print(f"val/mse={float(trainer.callback_metrics['val/mse']):.4f} after {steps} steps in {elapsed:.1f}s")
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
