"""LightningCLI entry point for the YAML-configured example (``examples/cli_config.yaml``).

Run: ``python examples/cli.py fit --config examples/cli_config.yaml``. Every scheduler callback of
``lightning_schedulers``, schedules included, is configured in the YAML under
``trainer.callbacks`` with ``class_path``/``init_args``; the model and data are small and generated.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LightningCLI
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regression(pl.LightningModule):
    """A small MLP with a scheduled attribute (``dropout.p``) and a scheduled loss weight."""

    def __init__(self, hidden: int = 32, lr: float = 0.05) -> None:
        super().__init__()
        self.lr = lr
        self.l2_weight = 0.0
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 1))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        l2 = sum(p.pow(2).sum() for p in self.net.parameters())
        return loss + self.l2_weight * l2

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


class Synthetic(pl.LightningDataModule):
    """A generated linear-regression problem (no download)."""

    def __init__(self, samples: int = 512, batch_size: int = 32) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(samples, 8, generator=generator)
        y = x @ torch.randn(8, 1, generator=generator) + 0.1 * torch.randn(samples, 1, generator=generator)
        split = samples * 3 // 4
        self.train_set = TensorDataset(x[:split], y[:split])
        self.val_set = TensorDataset(x[split:], y[split:])
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)


def main() -> None:
    LightningCLI(Regression, Synthetic, save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
