"""The Trainer as a run's host: what a :class:`~lightning_schedulers.engine.run.Run` asks, read from Lightning.

One :class:`TrainerHost` lives for one fit of one callback, next to its run. Beyond the
:class:`~lightning_schedulers.engine.run.Host` interface it keeps what only a Trainer fit has: the
StochasticWeightAveraging handover, a write deferred to the end of an accumulation window, and the
check that manual optimization steps once per batch when the length came from the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.engine.clocks import Clock, OptimizerStepClock
from lightning_schedulers.lightning import guards
from lightning_schedulers.lightning.clocks import clock_optimizer, trainer_clock
from lightning_schedulers.lightning.lengths import fit_length, inside_accumulation_window, training_ends

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback
    from lightning_schedulers.engine.run import Run

__all__ = ["TrainerHost"]


class TrainerHost:
    """A fit of ``trainer`` driving ``callback`` (see :class:`~lightning_schedulers.engine.run.Host`)."""

    def __init__(self, trainer: pl.Trainer, pl_module: pl.LightningModule, callback: SchedulerCallback) -> None:
        self.trainer = trainer
        self._module = pl_module
        self.callback = callback
        self.log_every = (
            int(trainer.log_every_n_steps)  # type: ignore[attr-defined]  # set by Trainer.__init__
            if callback.logging_enabled and trainer.loggers and trainer.is_global_zero
            else 0
        )
        self._strategy = trainer.strategy
        self.optimizers_holder: tuple[object, str] = (trainer.strategy, "optimizers")  # a new list when recreated
        self.handover: int | None = None  # the epoch StochasticWeightAveraging takes the lr over
        self.handed_over = False
        self.deferred_at: int | None = None  # a change inside an accumulation window, applied at its step
        self.rate_check: tuple[Any, int, int] | None = None  # manual optimization: (progress, batches, steps)
        self.pending = False  # whether either of the two above needs looking at after a batch

    # ------------------------------------------------------------------ Host
    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]:
        return self.trainer.optimizers

    @property
    def module(self) -> Any:
        return self._module

    def make_clock(self, run: Run, state: dict[str, Any] | None) -> Clock:
        return trainer_clock(run, self.trainer, state, resumed=state is not None or run.stateless_resume)

    def fit_length(self, callback: SchedulerCallback) -> int:
        return fit_length(self.trainer, callback.interval, type(callback).__name__, callback.clock, callback.count)

    def resumed_without_state(self) -> bool:
        trainer = self.trainer
        return getattr(trainer, "ckpt_path", None) is not None and (
            trainer.global_step > 0 or trainer.current_epoch > 0
        )

    def check_setup(self, run: Run) -> None:
        guards.check_setup(self.callback, self.trainer)

    def kept(self, actives: list[Active]) -> list[Active]:
        return guards.without_swa_lr(actives) if self.handed_over else actives

    def monitored_labels(self, actives: Sequence[Active]) -> frozenset[str]:
        return guards.monitored_labels(self.trainer, actives)

    def inside_accumulation_window(self) -> bool:
        return inside_accumulation_window(self.trainer)

    def training_ends(self) -> bool:
        return training_ends(self.trainer)

    def broadcast(self, value: Any) -> Any:
        return self.trainer.strategy.broadcast(value, src=0)

    def log_step(self) -> int:
        return int(self.trainer.global_step)

    def epoch(self) -> int:
        return int(self.trainer.current_epoch)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for logger in self.trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def warn(self, message: str) -> None:
        rank_zero_warn(message)

    def info(self, message: str) -> None:
        rank_zero_info(message)

    # ------------------------------------------------------------------ what only a Trainer fit has
    def started(self, run: Run) -> None:
        """After the run bound its targets, before the first write: SWA handover, the manual-step check."""
        clock = run.clock
        if isinstance(clock, OptimizerStepClock) and run.lengths_from_host:
            # Under manual optimization a length from the trainer assumes one step per batch.
            progress: Any = self.trainer.fit_loop.epoch_loop.batch_progress.total
            self.rate_check = (progress, int(progress.processed), clock.count)
            self.pending = True
        self.handover = guards.swa_start(self.trainer, self.callback)
        self.epoch_started(run)

    def epoch_started(self, run: Run) -> None:
        """From SWA's start epoch its SWALR drives the first optimizer's lr: stop writing (and logging) it."""
        if self.handover is None or self.trainer.current_epoch < self.handover:
            return
        self.handover, self.handed_over = None, True
        assert run.engine is not None
        kept = guards.without_swa_lr(run.engine.actives)
        if len(kept) == len(run.engine.actives):
            return
        run.keep(kept)
        rank_zero_info(
            f"{type(self.callback).__name__}: from epoch {self.trainer.current_epoch}, StochasticWeightAveraging "
            "drives the lr (its SWALR); this callback stops writing and logging it"
        )

    def rebound(self, run: Run) -> None:
        """After a rebind: the manual clock follows the (possibly new) optimizer."""
        if isinstance(run.clock, OptimizerStepClock):
            run.clock.follow(self.trainer.optimizers[clock_optimizer(self.callback, self.trainer)])

    def epoch_done(self) -> bool:
        """Whether every batch of the current epoch has run (Lightning then steps epoch-interval schedulers)."""
        loop = self.trainer.fit_loop.epoch_loop
        try:
            return bool(loop._num_ready_batches_reached())
        except AttributeError:  # another Lightning version
            return bool(loop.batch_progress.is_last_batch)

    def write_changed(self, run: Run) -> None:
        """Write a changed value now, or at the next optimizer step when inside an accumulation window."""
        if self.inside_accumulation_window():
            self.deferred_at = int(self.trainer.global_step)
            self.pending = True
            assert run.engine is not None
            run.engine.disarm()
            return
        run.write_now(log_at_end=True)

    def after_batch(self, run: Run) -> None:
        """A deferred write whose optimizer step has come; the manual-step check."""
        if self.deferred_at is not None and self.trainer.global_step != self.deferred_at:
            self.deferred_at = None
            run.write_now()
        if self.rate_check is not None:
            self._check_rate(run)
        self.pending = self.deferred_at is not None or self.rate_check is not None

    def _check_rate(self, run: Run) -> None:
        assert self.rate_check is not None and isinstance(run.clock, OptimizerStepClock)
        progress, batches0, steps0 = self.rate_check
        batches, steps = int(progress.processed) - batches0, run.clock.count - steps0
        if batches != steps:
            self.rate_check = None
            optimizer = type(run.clock.optimizer).__name__
            rank_zero_warn(
                f"{type(self.callback).__name__}: under manual optimization its optimizer ({optimizer}) took {steps} "
                f"step(s) in the first {batches} batch(es) of this fit, but the length resolved from the trainer "
                f"({run.events_total} steps) assumes one step per batch, so the schedule will not end with the fit. "
                "Give the length in this optimizer's steps (total_steps=..., or explicit durations), or pass "
                "clock='batch' to follow the training batches."
            )
