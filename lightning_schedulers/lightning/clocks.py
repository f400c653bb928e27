"""The Trainer's clocks: which counter of Lightning's loops a callback's events are.

* ``interval="epoch"``: the epoch counter (``trainer.current_epoch``).
* ``clock="batch"``: the training batches processed.
* ``clock="optimizer"`` under automatic optimization: the optimizer steps (``trainer.global_step``),
  read from the counter behind the property (the property costs about a microsecond a read).
* ``clock="optimizer"`` under manual optimization: the ``step()`` calls of the callback's own
  optimizer (``global_step`` counts every optimizer's), counted by hooks and saved in checkpoints.
* ``clock="samples"`` / ``"tokens"``: the units consumed before the optimizer step now training,
  every micro-batch of every rank counted (fed batch by batch, added across ranks at each step).

A new clock is a class in :mod:`lightning_schedulers.engine.clocks`, an entry in
:func:`trainer_clock` and its length in :mod:`lightning_schedulers.lightning.lengths`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch

from lightning_schedulers.engine.clocks import Clock, OptimizerStepClock, ReadClock, UnitClock
from lightning_schedulers.engine.state import UNIT_CLOCKS
from lightning_schedulers.engine.units import Count, sum_over_ranks
from lightning_schedulers.lightning.lengths import is_manual
from lightning_schedulers.targets import ParamGroup

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback
    from lightning_schedulers.engine.run import Run

__all__ = ["clock_optimizer", "optimizer_steps", "ranks_gather", "trainer_clock"]


class _GlobalStep:
    """``trainer.global_step`` as a counter object (a fallback for other Lightning versions)."""

    def __init__(self, trainer: pl.Trainer) -> None:
        self._trainer = trainer

    @property
    def completed(self) -> int:
        return int(self._trainer.global_step)


def trainer_clock(run: Run, trainer: pl.Trainer, state: dict[str, Any] | None, resumed: bool) -> Clock:
    """The clock of ``run``'s callback in this fit; ``state`` restores a counted one."""
    callback = run.callback
    if callback.interval == "epoch":
        return ReadClock(trainer.fit_loop.epoch_progress.current, "completed")
    loop = trainer.fit_loop.epoch_loop
    if callback.clock == "batch":
        return ReadClock(loop.batch_progress.total, "processed")
    if callback.clock in UNIT_CLOCKS:
        return _unit_clock(run, trainer, state, resumed)
    return _step_clock(run, trainer, state, resumed)


def _step_clock(
    run: Run,
    trainer: pl.Trainer,
    state: dict[str, Any] | None,
    resumed: bool,
    units: Callable[[], UnitClock | None] | None = None,
) -> Clock:
    """The optimizer steps: Lightning's counter, or under manual optimization the callback's optimizer's."""
    if not is_manual(trainer):
        return optimizer_steps(trainer)
    index = clock_optimizer(run.callback, trainer)
    steps = state.get("steps") if state is not None and units is None else None
    if not isinstance(steps, int):
        # No count stored: a fresh fit starts at 0; a resumed one estimates one step per
        # optimizer per global step (global_step counts every optimizer's steps).
        steps = int(trainer.global_step) // max(len(trainer.optimizers), 1) if resumed else 0

    def before_step(count: int) -> None:
        # Within a batch the optimizer steps again: write the value the clock moved to first.
        engine = run.engine
        if units is not None:
            clock = units()
            if clock is None:
                return
            count = clock.count
        if engine is not None and count - run.offset != engine.last_t:
            engine.apply(count - run.offset)

    def after_step() -> None:
        clock = units() if units is not None else None
        if clock is not None:
            clock.sync()  # the units of this step's micro-batches are consumed now

    return OptimizerStepClock(steps, trainer.optimizers[index], before_step, after_step if units else None)


def optimizer_steps(trainer: pl.Trainer) -> ReadClock:
    """Lightning's optimizer-step counter under automatic optimization (``trainer.global_step``'s source)."""
    source: Any = trainer.fit_loop.epoch_loop
    for attribute in ("automatic_optimization", "optim_progress", "optimizer", "step", "total"):
        source = getattr(source, attribute, None)
    if getattr(source, "completed", None) != trainer.global_step:
        source = _GlobalStep(trainer)
    return ReadClock(source, "completed")


def ranks_gather(trainer: pl.Trainer, count: Count | None) -> tuple[Callable[[int], int], int]:
    """How a step's units are added over the ranks: ``(gather, world)`` for :class:`UnitClock`.

    An int ``count`` is every rank's: ``world`` (the processes) multiplies it, no collective.
    Otherwise ``world`` is 0 and ``gather`` adds the ranks' counts with one all-reduce (the
    strategy's ``reduce`` where torch.distributed does not run, as under XLA).
    """
    world = int(trainer.world_size)
    if isinstance(count, int) or world == 1:
        return int, world
    strategy = trainer.strategy

    def gather(units: int) -> int:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return sum_over_ranks(units, strategy.root_device)
        total = strategy.reduce(torch.tensor(units, dtype=torch.int64, device=strategy.root_device), reduce_op="sum")
        return int(total.item()) if isinstance(total, torch.Tensor) else int(total)

    return gather, 0


def _unit_clock(run: Run, trainer: pl.Trainer, state: dict[str, Any] | None, resumed: bool) -> UnitClock:
    """Samples or tokens consumed before the optimizer step now training, on every rank."""
    callback = run.callback
    holder: list[UnitClock] = []
    steps = _step_clock(run, trainer, state, resumed, units=lambda: holder[0] if holder else None)
    count, pending = 0, 0
    if state is not None:
        count = int(state.get("steps") or 0)
        stored = state.get("units_pending")
        pending = stored if isinstance(stored, int) and stored >= 0 else 0
    elif resumed:
        if not isinstance(callback.count, int):
            raise ValueError(
                f"{type(callback).__name__}: this fit resumes from a checkpoint that holds no state for this callback, "
                f"and with clock={callback.clock!r} the {callback.clock} consumed so far are not known (count is a "
                "function of the batch). Resume from a checkpoint this callback wrote, or pass on_resume='restart' to "
                "start the schedule at the resumed step."
            )
        if callback.on_resume != "restart":
            batches = int(trainer.fit_loop.epoch_loop.batch_progress.total.completed)
            count = batches * trainer.world_size * callback.count
    gather, world = ranks_gather(trainer, callback.count)
    clock = UnitClock(count, pending, steps, gather, world=world)
    holder.append(clock)
    return clock


def clock_optimizer(callback: SchedulerCallback, trainer: pl.Trainer) -> int:
    """The optimizer whose steps the clock counts under manual optimization."""
    indices = {
        b.target.optimizer_index(trainer.optimizers) for b in callback._bindings() if isinstance(b.target, ParamGroup)
    }
    if len(indices) == 1:
        return indices.pop()
    if not indices and len(trainer.optimizers) == 1:
        return 0
    what = f"targets on optimizers {sorted(indices)}" if indices else "no optimizer target"
    raise ValueError(
        f"{type(callback).__name__}: under manual optimization with {len(trainer.optimizers)} optimizers, "
        f"clock='optimizer' follows one optimizer's steps, but this callback has {what}; use one callback "
        "per optimizer, or pass clock='batch' to count training batches"
    )
