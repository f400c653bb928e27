"""In-situ cost of scheduling: the time spent inside the scheduling hooks during a real ``Trainer.fit``.

Whole-fit timings on a small machine vary by more than the whole cost of scheduling, so this
times only what runs inside the hooks, per batch, during real fits (a tiny model, batch size 1,
a CSV logger, ``log_every_n_steps=50``). Contenders, interleaved round by round in one process:

* **ours**: ``ls.OneCycleLR(max_lr=0.1)`` (lr and momentum) and ``ls.CosineAnnealingLR`` (lr),
  timed inside all of the callback's hooks;
* **built-in**: Lightning's own path, torch's ``OneCycleLR`` returned from ``configure_optimizers``
  with ``interval="step"`` plus ``LearningRateMonitor``, timed inside the monitor's hooks and
  Lightning's ``update_lr_schedulers``;
* **floor**: a hand-written callback that reads ``global_step``, computes a cosine, writes the
  param groups and logs every 50 steps; **floor, 2 keys** does the same for lr and momentum (the
  work of ``OneCycleLR``, and of torch's OneCycleLR on Lightning's path).

A fit is longer than one block of precomputed values (4,096 steps), so the in-fit refill of the
blocks is in the per-batch numbers.

With ``--groups N`` (N > 1) a second table times the same fits on a model with N param groups
(layer-wise lr decay has one per layer): **floor** is a hand-written callback that computes a
cosine factor once and writes ``base * factor`` into each group, logging every 50 steps; **ours,
base * factor** the same work as a callback (a cosine factor of each group's start lr:
``ScheduleCallback`` on ``ParamGroup("lr", relative=True)``); **ours: CosineAnnealingLR** torch's
per-group formula ``eta_min + (base - eta_min) * c(t)``, which is not a multiple of one factor.
The same three again on groups that hold timm's ``lr_scale`` (layer-wise decay: each group's lr is
``value * lr_scale``; the floor multiplies precomputed ``base * lr_scale`` by the factor), with
``, lr_scale`` in their names. ``--groups-only`` times the grouped fits alone.

Every timed function goes through the same wrapper, so the wrapper's own cost is in every number;
two empty callbacks (one and two timed per-batch hooks) measure it, and a second table subtracts it.
Run: ``python benchmarks/in_situ.py [--batches 5000 --rounds 7]`` (about five minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import platform
import statistics
import tempfile
import time
import warnings
from typing import Any

import lightning
import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from run import Tiny  # benchmarks/run.py: the same tiny model (torch's OneCycleLR when built in)
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls

warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

# Per-batch hooks; on_train_start (binding, once a fit) is timed apart.
HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_train_epoch_end", "on_validation_end")


class Clock:
    """Accumulates the time spent in the functions it wraps."""

    def __init__(self) -> None:
        self.ns = 0

    def wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.ns += time.perf_counter_ns() - start

        setattr(owner, name, timed)


class Floor(pl.Callback):
    """The least a scheduling callback can do: read the clock, compute a cosine, write, log every 50."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.groups: list[dict[str, Any]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.groups = trainer.optimizers[0].param_groups

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        t = trainer.global_step
        lr = 0.001 + (0.1 - 0.001) * 0.5 * (1.0 + math.cos(math.pi * t / self.total))
        for group in self.groups:
            group["lr"] = lr
        if t % 50 == 0:
            for logger in trainer.loggers:
                logger.log_metrics({"lr-SGD": lr}, step=t)


class Floor2(Floor):
    """The floor for OneCycleLR's work: two keys (lr and momentum) computed, written and logged."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        t = trainer.global_step
        c = 0.5 * (1.0 + math.cos(math.pi * t / self.total))
        lr, momentum = 0.001 + (0.1 - 0.001) * c, 0.95 - (0.95 - 0.85) * c
        for group in self.groups:
            group["lr"] = lr
            group["momentum"] = momentum
        if t % 50 == 0:
            for logger in trainer.loggers:
                logger.log_metrics({"lr-SGD": lr, "lr-SGD-momentum": momentum}, step=t)


class FloorGroups(Floor):
    """The floor for many param groups: one cosine factor, ``base * factor`` written into each group."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.bases = [float(g["lr"]) for g in self.groups]

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        t = trainer.global_step
        factor = 0.01 + (1.0 - 0.01) * 0.5 * (1.0 + math.cos(math.pi * t / self.total))
        for group, base in zip(self.groups, self.bases):  # noqa: B905
            group["lr"] = base * factor
        if t % 50 == 0:
            for logger in trainer.loggers:
                logger.log_metrics({f"lr-SGD/pg{j + 1}": g["lr"] for j, g in enumerate(self.groups)}, step=t)


class FloorGroupsScaled(FloorGroups):
    """The floor for groups with ``lr_scale``: ``(base * lr_scale) * factor``, the product taken once."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.bases = [float(g["lr"]) * g["lr_scale"] for g in self.groups]


class Grouped(pl.LightningModule):
    """A tiny model whose optimizer has ``groups`` param groups (one scalar parameter each).

    With ``lr_scale``, each group holds timm's layer-wise decay factor ``0.75 ** (groups - 1 - j)``.
    """

    def __init__(self, groups: int, lr_scale: bool = False) -> None:
        super().__init__()
        self.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(())) for _ in range(groups)])
        self.lr_scale = lr_scale

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        w = torch.stack(list(self.weights)).sum()
        return torch.nn.functional.mse_loss(x.sum(dim=1, keepdim=True) * w, y)

    def configure_optimizers(self) -> Any:
        groups: list[dict[str, Any]] = [{"params": [w], "lr": 0.1 * 0.9**j} for j, w in enumerate(self.weights)]
        if self.lr_scale:
            for j, group in enumerate(groups):
                group["lr_scale"] = 0.75 ** (len(groups) - 1 - j)
        return torch.optim.SGD(groups, lr=0.1)


class Empty1(pl.Callback):
    """Calibration: what the timing wrapper costs in situ around one empty per-batch hook."""

    def on_train_batch_start(self, *args: Any) -> None:
        pass


class Empty2(Empty1):
    """Calibration: two empty per-batch hooks (ours has two: a setup check at the start, the clock at the end)."""

    def on_train_batch_end(self, *args: Any) -> None:
        pass


def fit(kind: str, batches: int, groups: int = 1) -> tuple[float, float]:
    """Microseconds per batch spent in the contender's hooks during one fit, and in its on_train_start."""
    x, y = torch.randn(batches, 4), torch.randn(batches, 1)
    clock, start = Clock(), Clock()
    callbacks: list[pl.Callback]
    if kind == "ours: OneCycleLR":
        callbacks = [ls.OneCycleLR(0.1)]
    elif kind == "ours: CosineAnnealingLR":
        callbacks = [ls.CosineAnnealingLR(T_max=batches, eta_min=0.001, interval="step")]
    elif kind == "built-in":
        callbacks = [LearningRateMonitor(logging_interval="step")]
    elif kind == "empty, 1 hook":
        callbacks = [Empty1()]
    elif kind == "empty, 2 hooks":
        callbacks = [Empty2()]
    elif kind == "floor, 2 keys":
        callbacks = [Floor2(batches)]
    elif kind.startswith("ours: CosineAnnealingLR, groups"):
        callbacks = [ls.CosineAnnealingLR(T_max=batches, eta_min=0.001, interval="step")]
    elif kind.startswith("ours: base * factor, groups"):
        factor = ls.schedules.Cosine(1.0, 0.01, batches)
        callbacks = [ls.ScheduleCallback(factor, target=ls.ParamGroup("lr", relative=True))]
    elif kind == "floor, groups":
        callbacks = [FloorGroups(batches)]
    elif kind == "floor, groups, lr_scale":
        callbacks = [FloorGroupsScaled(batches)]
    else:
        callbacks = [Floor(batches)]
    for callback in callbacks:
        for hook in HOOKS:
            if getattr(type(callback), hook) is not getattr(pl.Callback, hook):  # implemented, not inherited
                clock.wrap(callback, hook)
        start.wrap(callback, "on_train_start")
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=1,
            callbacks=callbacks,
            logger=CSVLogger(folder),
            log_every_n_steps=50,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        if kind == "built-in":  # Lightning steps the torch scheduler here, once per batch
            clock.wrap(trainer.fit_loop.epoch_loop, "update_lr_schedulers")
        grouped = ", groups" in kind
        model = Grouped(groups, kind.endswith("lr_scale")) if grouped else Tiny(kind == "built-in", batches)
        trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=1))
    return clock.ns / 1e3 / batches, start.ns / 1e3


def single_tables(kinds: tuple[str, ...], times: dict[str, list[float]], starts: dict[str, list[float]]) -> None:
    """The one-group tables: per batch, against the floors and the built-in path, and net of the wrapper."""
    med = {k: statistics.median(v) for k, v in times.items()}
    print("| contender | µs per batch inside the hooks | / floor | / built-in | on_train_start, µs once |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        once = statistics.median(starts[kind])
        print(
            f"| {kind} | {med[kind]:.2f} | {med[kind] / med['floor']:.2f} | {med[kind] / med['built-in']:.2f} "
            f"| {once:.0f} |"
        )
    # Net of the timing wrapper: each contender less the empty callback with as many timed hooks.
    # The floor for the same work: one key for the cosine (and the built-in path), two for OneCycleLR.
    floors = {k: med[k] - med["empty, 1 hook"] for k in ("floor", "floor, 2 keys")}
    print("\nNet of the wrapper (less the empty callback with the same number of timed per-batch hooks):")
    print("| contender | µs per batch | against | / that floor |")
    print("|---|---|---|---|")
    for kind, empty, floor in (
        ("ours: OneCycleLR", "empty, 2 hooks", "floor, 2 keys"),
        ("ours: CosineAnnealingLR", "empty, 2 hooks", "floor"),
        ("built-in", "empty, 2 hooks", "floor, 2 keys"),
        ("floor", "empty, 1 hook", "floor"),
        ("floor, 2 keys", "empty, 1 hook", "floor, 2 keys"),
    ):
        net = med[kind] - med[empty]
        print(f"| {kind} | {net:.2f} | {floor} | {net / floors[floor]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--groups", type=int, default=0, help="also time a model with this many param groups")
    parser.add_argument("--groups-only", action="store_true", help="time only the fits with --groups param groups")
    args = parser.parse_args()
    kinds: tuple[str, ...] = (
        "ours: OneCycleLR",
        "ours: CosineAnnealingLR",
        "built-in",
        "floor",
        "floor, 2 keys",
        "empty, 1 hook",
        "empty, 2 hooks",
    )
    if args.groups_only:
        if args.groups < 2:
            parser.error("--groups-only needs --groups N with N > 1")
        kinds = ()
    times: dict[str, list[float]] = {k: [] for k in kinds}
    starts: dict[str, list[float]] = {k: [] for k in kinds}
    grouped: tuple[str, ...] = ()
    if args.groups > 1:
        plain = ("ours: base * factor, groups", "ours: CosineAnnealingLR, groups", "floor, groups")
        grouped = plain + tuple(f"{kind}, lr_scale" for kind in plain)
    times.update({k: [] for k in grouped})
    starts.update({k: [] for k in grouped})
    for _ in range(args.rounds):
        for kind in kinds + grouped:
            per_batch, once = fit(kind, args.batches, args.groups)
            times[kind].append(per_batch)
            starts[kind].append(once)
    print(
        f"# {platform.machine()}, {platform.python_version()}, torch {torch.__version__}, "
        f"Lightning {lightning.__version__}; {args.batches} batches x {args.rounds} rounds, medians"
    )
    if kinds:
        single_tables(kinds, times, starts)
    if grouped:
        floor_g = statistics.median(times["floor, groups"])
        print(f"\n{args.groups} param groups (µs per batch inside the hooks, wrapper included):")
        print("| contender | µs per batch | / floor | / its own floor |")
        print("|---|---|---|---|")
        for kind in grouped:
            value = statistics.median(times[kind])
            own = statistics.median(times["floor, groups, lr_scale" if kind.endswith("lr_scale") else "floor, groups"])
            print(f"| {kind.replace(', groups', '')} | {value:.2f} | {value / floor_g:.2f} | {value / own:.2f} |")


if __name__ == "__main__":
    main()
