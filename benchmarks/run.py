"""Measured comparisons: lightning_schedulers against torch, ignite, poutyne and a bare Lightning fit.

Every comparison runs its contenders interleaved, round after round, in one process, and reports
medians and ratios, so machine noise hits all of them alike. Run: ``python benchmarks/run.py``
(about two minutes on 2 CPU cores; ``--quick`` for a smoke run). The README's table comes from it.

1. Hook cost per step: the callback's per-batch hooks' work against torch's
   ``scheduler.step()`` for the same schedule, and against the floor: computing the value in plain
   Python and writing it into the param groups.
2. End-to-end overhead per batch inside ``Trainer.fit`` (a tiny model, batch size 1, CSV logging on):
   a bare fit, this package's ``OneCycleLR`` callback, and Lightning's built-in path (a torch
   ``OneCycleLR`` in ``configure_optimizers`` with ``interval="step"`` plus ``LearningRateMonitor``).
3. ``simulate`` of 1,000,000 steps against a numpy-vectorised formula, ignite's ``simulate_values``
   and poutyne's ``all_steps``.
4. A resume at step 1,000,000: evaluating the schedule there, against stepping a torch scheduler
   1,000,000 times.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls

warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(1)


def medians(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run every contender once per round, interleaved; return the median of each."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


# ------------------------------------------------------------------ 1. hook cost per step
def _optimizer(groups: int = 3) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    return torch.optim.SGD([{"params": [p]} for p in params], lr=0.1, momentum=0.9)


def _fake_trainer(optimizer: torch.optim.Optimizer) -> Any:
    # What the hooks read: the clock, the optimizers, the logging settings. With no progress
    # counters in fit_loop the callback reads trainer.global_step.
    optimizers = [optimizer]
    return SimpleNamespace(
        optimizers=optimizers,
        strategy=SimpleNamespace(optimizers=optimizers),
        lightning_module=SimpleNamespace(automatic_optimization=True),
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace()),
        global_step=0,
        current_epoch=0,
        loggers=[],
        is_global_zero=True,
        log_every_n_steps=50,
        callbacks=[],
        lr_scheduler_configs=[],
        max_steps=-1,
        max_epochs=-1,
        is_last_batch=False,
        estimated_stepping_batches=10**9,
    )


def hook_per_step(make: Callable[[], ls.SchedulerCallback], steps: int) -> Callable[[], float]:
    def run() -> float:
        callback = make()
        trainer = _fake_trainer(_optimizer())
        callback.on_train_start(trainer, None)  # type: ignore[arg-type]
        begin, end = callback.on_train_batch_start, callback.on_train_batch_end
        start = time.perf_counter()
        for t in range(1, steps + 1):
            begin(trainer, None, None, 0)  # type: ignore[arg-type]
            trainer.global_step = t
            end(trainer, None, None, None, 0)  # type: ignore[arg-type]
        return (time.perf_counter() - start) / steps

    return run


def torch_per_step(make: Callable[[torch.optim.Optimizer], Any], steps: int) -> Callable[[], float]:
    def run() -> float:
        scheduler = make(_optimizer())
        start = time.perf_counter()
        for _ in range(steps):
            scheduler.step()
        return (time.perf_counter() - start) / steps

    return run


def floor_per_step(steps: int, total: int) -> Callable[[], float]:
    def run() -> float:
        groups = _optimizer().param_groups
        start = time.perf_counter()
        for t in range(steps):
            c = math.cos(math.pi * t / (2 * total))
            v = 0.001 + (0.1 - 0.001) * c * c
            for group in groups:
                group["lr"] = v
        return (time.perf_counter() - start) / steps

    return run


def bench_hooks(steps: int, rounds: int) -> list[dict[str, Any]]:
    total = 10**6
    cases = [
        (
            "CosineAnnealingLR",
            lambda: ls.CosineAnnealingLR(total, 0.001, interval="step", logging_enabled=False),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total, 0.001),
        ),
        (
            "OneCycleLR (lr + momentum)",
            lambda: ls.OneCycleLR(0.1, total_steps=total, logging_enabled=False),
            lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=total),
        ),
        (
            "StepLR",
            lambda: ls.StepLR(1000, 0.5, interval="step", logging_enabled=False),
            lambda o: torch.optim.lr_scheduler.StepLR(o, 1000, 0.5),
        ),
    ]
    rows = []
    for name, ours, theirs in cases:
        result = medians(
            {
                "ours": hook_per_step(ours, steps),
                "torch": torch_per_step(theirs, steps),
                "floor": floor_per_step(steps, total),
            },
            rounds,
        )
        rows.append({"schedule": name, **{k: v * 1e6 for k, v in result.items()}})
    return rows


# ------------------------------------------------------------------ 2. end-to-end in Trainer.fit
class Tiny(pl.LightningModule):
    def __init__(self, builtin: bool, total: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.builtin = builtin
        self.total = total

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        if not self.builtin:
            return optimizer
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=self.total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class LoopTimer(pl.Callback):
    """Times the training loop alone: from batch ``skip`` to the end of training (no setup, no teardown)."""

    def __init__(self, skip: int) -> None:
        self.skip = skip
        self.start = 0.0
        self.seconds = 0.0

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if args[-1] == self.skip:
            self.start = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds = time.perf_counter() - self.start


def fit_per_batch(kind: str, batches: int) -> Callable[[], float]:
    x, y = torch.randn(batches, 4), torch.randn(batches, 1)
    skip = batches // 10

    def run() -> float:
        callbacks: list[pl.Callback] = []
        if kind == "empty callback":
            callbacks = [pl.Callback()]  # Lightning's own cost of dispatching hooks to one callback
        elif kind == "ours":
            callbacks = [ls.OneCycleLR(0.1)]
        elif kind == "builtin":
            callbacks = [LearningRateMonitor(logging_interval="step")]
        timer = LoopTimer(skip)
        with tempfile.TemporaryDirectory() as folder:
            trainer = pl.Trainer(
                accelerator="cpu",
                devices=1,
                max_epochs=1,
                callbacks=[*callbacks, timer],
                logger=CSVLogger(folder),
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
            )
            loader = DataLoader(TensorDataset(x, y), batch_size=1)
            trainer.fit(Tiny(kind == "builtin", batches), loader)
            return timer.seconds / (batches - skip)

    return run


def bench_fit(batches: int, rounds: int) -> dict[str, float]:
    kinds = ("bare", "empty callback", "ours", "builtin")
    result = medians({k: fit_per_batch(k, batches) for k in kinds}, rounds)
    return {k: v * 1e6 for k, v in result.items()}


# ------------------------------------------------------------------ 3. simulate
def bench_simulate(n: int, reference_n: int, rounds: int) -> dict[str, float]:
    from ignite.handlers import CosineAnnealingScheduler
    from poutyne.framework.callbacks.policies import OptimizerPolicy, Phase, cosinespace

    ours = ls.CosineAnnealingScheduler("lr", 0.1, 0.001, cycle_size=n)

    def time_ours() -> float:
        start = time.perf_counter()
        ours.simulate(n)
        return (time.perf_counter() - start) / n

    def time_numpy() -> float:
        start = time.perf_counter()
        t = np.arange(n, dtype=np.float64)
        0.1 + ((0.001 - 0.1) / 2) * (1 - np.cos(np.pi * t / n))
        return (time.perf_counter() - start) / n

    def time_ignite() -> float:
        start = time.perf_counter()
        CosineAnnealingScheduler.simulate_values(
            reference_n, optimizer=_optimizer(1), param_name="lr", start_value=0.1, end_value=0.001, cycle_size=n
        )
        return (time.perf_counter() - start) / reference_n

    def time_poutyne() -> float:
        start = time.perf_counter()
        list(OptimizerPolicy([Phase(lr=cosinespace(0.1, 0.001, reference_n))]).all_steps())
        return (time.perf_counter() - start) / reference_n

    result = medians({"ours": time_ours, "numpy": time_numpy, "ignite": time_ignite, "poutyne": time_poutyne}, rounds)
    return {k: v * 1e9 for k, v in result.items()}  # nanoseconds per step


# ------------------------------------------------------------------ 4. resume at step 10**6
def bench_jump(steps: int) -> dict[str, float]:
    callback = ls.CosineAnnealingLR(steps, 0.001, interval="step", logging_enabled=False)
    trainer = _fake_trainer(_optimizer())
    trainer.global_step = steps
    start = time.perf_counter()
    callback.on_train_start(trainer, None)  # type: ignore[arg-type]  # binds and writes the value at 10**6
    ours = time.perf_counter() - start
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(_optimizer(), steps, 0.001)
    start = time.perf_counter()
    for _ in range(steps):
        scheduler.step()
    theirs = time.perf_counter() - start
    return {"ours_us": ours * 1e6, "torch_s": theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    q = args.quick
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"machine: {machine}; torch {torch.__version__}, lightning {pl.__version__}")
    results: dict[str, Any] = {"machine": machine}

    hooks = bench_hooks(steps=2_000 if q else 20_000, rounds=3 if q else 9)
    results["hooks"] = hooks
    print("\n1. per-step hook cost (microseconds, median; 3 param groups)")
    print("| schedule | ours | torch step() | floor | ours / torch | ours / floor |")
    print("|---|---|---|---|---|---|")
    for r in hooks:
        print(
            f"| {r['schedule']} | {r['ours']:.2f} | {r['torch']:.2f} | {r['floor']:.2f} | "
            f"{r['ours'] / r['torch']:.2f} | {r['ours'] / r['floor']:.2f} |"
        )

    fit = bench_fit(batches=300 if q else 3_000, rounds=3 if q else 7)
    results["fit"] = fit
    ours_over, builtin_over = fit["ours"] - fit["bare"], fit["builtin"] - fit["bare"]
    print("\n2. Trainer.fit per batch (microseconds, median; batch size 1, CSV logging)")
    print(
        f"bare {fit['bare']:.1f} | empty callback {fit['empty callback']:.1f} | ours {fit['ours']:.1f} | "
        f"built-in (torch OneCycleLR + LearningRateMonitor) {fit['builtin']:.1f}"
    )
    print(f"overhead: ours {ours_over:.1f} us, built-in {builtin_over:.1f} us, ratio {ours_over / builtin_over:.2f}")
    print(
        f"of which Lightning's dispatch of hooks to one (empty) callback: {fit['empty callback'] - fit['bare']:.1f} us"
    )

    sim = bench_simulate(n=100_000 if q else 1_000_000, reference_n=20_000 if q else 100_000, rounds=3 if q else 5)
    results["simulate"] = sim
    print("\n3. simulate (nanoseconds per step, median)")
    print(" | ".join(f"{k} {v:.1f}" for k, v in sim.items()))
    print(
        f"ours / numpy {sim['ours'] / sim['numpy']:.2f}, ignite / ours {sim['ignite'] / sim['ours']:.0f}, "
        f"poutyne / ours {sim['poutyne'] / sim['ours']:.0f}"
    )

    jump = bench_jump(steps=100_000 if q else 1_000_000)
    results["jump"] = jump
    print(
        f"\n4. resume at step {100_000 if q else 1_000_000}: ours {jump['ours_us']:.0f} us (bind and write), "
        f"torch {jump['torch_s']:.2f} s of step() calls, ratio {jump['torch_s'] * 1e6 / jump['ours_us']:.0f}x"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
