"""Shared test helpers: a tiny LightningModule, a probe callback and a quick Trainer factory."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

PARITY_RTOL = 1e-12
"""The stated parity with the reference libraries: 1e-12 relative (see docs/numerics.md)."""
PARITY_ULPS = 4
"""Near zero, where a relative bound means nothing: 4 ulps of the sequence's largest magnitude."""


def assert_parity(ours: Any, ref: Any, rtol: float = PARITY_RTOL) -> None:
    """``|ours - ref| <= rtol * |ref| + PARITY_ULPS ulps of max |ref|``, elementwise, on every CPU.

    numpy's transcendental kernels (AVX-512 or not) and Python's ``math``, which the references
    use, may round differently by an ulp; this is the bound the package promises instead.
    """
    ref_a = np.asarray(ref, dtype=np.float64)
    ours_a = np.asarray(ours, dtype=np.float64).reshape(ref_a.shape)
    assert np.isfinite(ours_a).all() == np.isfinite(ref_a).all()
    err = np.abs(ours_a - ref_a)
    peak = float(np.max(np.abs(ref_a))) if ref_a.size else 0.0
    bound = rtol * np.abs(ref_a) + PARITY_ULPS * np.spacing(peak)
    bad = err > bound
    assert not bad.any(), (
        f"{int(bad.sum())} values outside the parity bound; worst at {np.argwhere(bad)[:3].tolist()}: "
        f"ours {ours_a[bad][:3].tolist()} vs reference {ref_a[bad][:3].tolist()}"
    )


warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*The number of training batches.*")


class TinyModule(pl.LightningModule):
    """A linear regression with configurable optimizer and param groups."""

    def __init__(
        self,
        optimizer: str = "SGD",
        groups: int = 1,
        lr: float | Sequence[float] = 0.1,
        optimizer_kwargs: dict[str, Any] | None = None,
        tensor_lr: bool = False,
        n_samples: int = 64,
        batch_size: int = 4,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 1) for _ in range(groups)])
        self.optimizer_name = optimizer
        self.groups = groups
        self.lrs = [lr] * groups if isinstance(lr, (int, float)) else list(lr)
        self.optimizer_kwargs = optimizer_kwargs or {}
        self.tensor_lr = tensor_lr
        self.n_samples = n_samples
        self.batch_size = batch_size
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n_samples, 4, generator=g)
        self.y = torch.randn(n_samples, 1, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(layer(x) for layer in self.layers)  # type: ignore[return-value]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.batch_size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        cls = getattr(torch.optim, self.optimizer_name)
        groups = []
        for layer, lr in zip(self.layers, self.lrs, strict=True):
            value: Any = torch.tensor(lr) if self.tensor_lr else lr
            groups.append({"params": layer.parameters(), "lr": value})
        return cls(groups, **self.optimizer_kwargs)


class Probe(pl.Callback):
    """Records, at every train batch start, what the targets hold (after the schedulers wrote)."""

    def __init__(self, read: Callable[[pl.Trainer, pl.LightningModule], list[float]]) -> None:
        self.read = read
        self.rows: list[tuple[int, int, list[float]]] = []

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.rows.append((trainer.global_step, trainer.current_epoch, self.read(trainer, pl_module)))


def group_values(key: str = "lr", optimizer: int = 0) -> Callable[[pl.Trainer, pl.LightningModule], list[float]]:
    def read(trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[float]:
        out = []
        for g in trainer.optimizers[optimizer].param_groups:
            v = g["betas"][0] if key == "momentum" and "momentum" not in g else g[key]
            out.append(float(v))
        return out

    return read


def make_trainer(callbacks: list[pl.Callback], **kwargs: Any) -> pl.Trainer:
    defaults: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    defaults.update(kwargs)
    return pl.Trainer(callbacks=callbacks, **defaults)


class ScriptedModule(TinyModule):
    """Logs a scripted ``val_loss``: one value per validation run, indexed by the global step."""

    def __init__(self, script: list[float], per_validation: int, rank_offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script = script
        self.per_validation = per_validation
        self.rank_offset = rank_offset

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x[:4], self.y[:4]), batch_size=4)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        index = self.trainer.global_step // self.per_validation - 1
        # Ranks other than zero drift by rank_offset per validation (a different trend, no sync_dist).
        value = self.script[index] + self.rank_offset * self.global_rank * (index + 1)
        self.log("val_loss", torch.tensor(value, dtype=torch.float64))


class AfterValidation(pl.Callback):
    def __init__(self, key: str = "lr") -> None:
        self.key = key
        self.rows: list[tuple[int, list[float]]] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.rows.append((trainer.global_step, [float(g[self.key]) for g in trainer.optimizers[0].param_groups]))


class Crash(pl.Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.at_step:
            raise RuntimeError("simulated crash")


class RankRecorder(pl.Callback):
    """Writes, per rank, the lr after every validation (ddp_spawn children cannot return lists)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.rows: list[list[float]] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.rows.append([float(g["lr"]) for g in trainer.optimizers[0].param_groups])

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        Path(self.folder, f"rank{trainer.global_rank}.json").write_text(json.dumps(self.rows))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        close_process_group()


def close_process_group() -> None:
    """Close gloo's process group at the end of a DDP fit, on every rank together.

    A worker that exits with the group alive can abort in gloo's thread destructors ("terminate
    called without an active exception", SIGABRT), failing a test whose values were all right.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


class RecordingLogger(Logger):
    """Keeps every ``log_metrics`` call, on every rank (no rank_zero_only filter: the callbacks are tested)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append((int(step or 0), {k: float(v) for k, v in metrics.items()}))
