"""The Trainer's clocks: which counter of Lightning's loops a callback's events are.

* ``interval="epoch"``: the epoch counter (``trainer.current_epoch``).
* ``clock="batch"``: the training batches processed.
* ``clock="optimizer"`` under automatic optimization: the optimizer steps (``trainer.global_step``),
  read from the counter behind the property (the property costs about a microsecond a read).
* ``clock="optimizer"`` under manual optimization: the ``step()`` calls of the callback's own
  optimizer (``global_step`` counts every optimizer's), counted by hooks and saved in checkpoints.

A new clock is a class in :mod:`lightning_schedulers.engine.clocks`, an entry in
:func:`trainer_clock` and its length in :mod:`lightning_schedulers.lightning.lengths`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl

from lightning_schedulers.engine.clocks import Clock, OptimizerStepClock, ReadClock
from lightning_schedulers.lightning.lengths import is_manual
from lightning_schedulers.targets import ParamGroup

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback
    from lightning_schedulers.engine.run import Run

__all__ = ["clock_optimizer", "trainer_clock"]


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
    if not is_manual(trainer):
        source: Any = loop
        for attribute in ("automatic_optimization", "optim_progress", "optimizer", "step", "total"):
            source = getattr(source, attribute, None)
        if getattr(source, "completed", None) != trainer.global_step:
            source = _GlobalStep(trainer)
        return ReadClock(source, "completed")
    index = clock_optimizer(callback, trainer)
    steps = state.get("steps") if state is not None else None
    if not isinstance(steps, int):
        # No count stored: a fresh fit starts at 0; a resumed one estimates one step per
        # optimizer per global step (global_step counts every optimizer's steps).
        steps = int(trainer.global_step) // max(len(trainer.optimizers), 1) if resumed else 0

    def before_step(count: int) -> None:
        # Within a batch the optimizer steps again: write the value the clock moved to first.
        engine = run.engine
        if engine is not None and count - run.offset != engine.last_t:
            engine.apply(count - run.offset)

    return OptimizerStepClock(steps, trainer.optimizers[index], before_step)


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
