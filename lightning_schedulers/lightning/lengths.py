"""How long a fit is, read from the Trainer: in epochs, optimizer steps or training batches.

Fractions of training (``warmup_steps=0.05``) resolve against these lengths once, when the fit
starts. The counts follow what Lightning does step by step: ``estimated_stepping_batches`` for
automatic optimization (gradient accumulation and DDP included), counted epoch by epoch under a
``GradientAccumulationScheduler``, and the training batches for the batch clock and manual
optimization.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import GradientAccumulationScheduler

__all__ = ["fit_length", "inside_accumulation_window", "is_manual", "training_ends"]


def is_manual(trainer: pl.Trainer) -> bool:
    """Whether the fit's LightningModule uses manual optimization."""
    module = trainer.lightning_module
    return module is not None and not module.automatic_optimization


def fit_length(trainer: pl.Trainer, interval: str, who: str, clock: str = "optimizer", count: Any = None) -> int:
    """Total events of this fit on the given clock, or a clear error when it is unknown.

    ``"epoch"``: ``max_epochs``. The optimizer clock under automatic optimization:
    ``trainer.estimated_stepping_batches`` (accumulation- and DDP-aware). The batch clock, and the
    optimizer clock under manual optimization: the fit's training batches, where ``max_steps``
    (which counts every optimizer's steps) is taken to mean one step per optimizer per batch.
    """
    if interval == "epoch":
        epochs = trainer.max_epochs
        if epochs is None or epochs < 0:
            raise ValueError(
                f"{who}: the number of epochs is unknown (max_epochs={epochs}: the fit is bounded by max_steps or "
                "max_time, or by nothing); set max_epochs, or give the length in epochs"
            )
        return int(epochs)
    if clock in ("samples", "tokens"):
        if not isinstance(count, int):
            raise ValueError(
                f"{who}: with clock={clock!r} a fraction of training needs the fit's length in {clock}, known only "
                f"when every batch holds the same number (count=<int>); give the lengths in {clock} instead"
            )
        return fit_length(trainer, "step", who, "batch") * int(trainer.world_size) * count
    manual = is_manual(trainer)
    if not manual and clock in ("optimizer", "batch"):
        from lightning_schedulers.callbacks.ramp import ramp_of  # callbacks.base imports this module

        ramp = ramp_of(trainer)
        if ramp is not None:
            # The ramp changes accumulate_grad_batches during the fit (estimated_stepping_batches
            # counts with the value of the moment): count the steps as it makes Lightning take them.
            try:
                plan = ramp.trainer_plan(trainer)
            except ValueError as error:
                raise ValueError(f"{who}: {error}") from error
            return plan.total_steps if clock == "optimizer" else plan.total_batches
    if clock == "optimizer" and not manual:
        total = trainer.estimated_stepping_batches
        # Lightning answers inf, or max_steps (-1 when unset), when the length cannot be known.
        if not math.isfinite(total) or total < 1:
            raise ValueError(
                f"{who}: the total number of optimizer steps is unknown (estimated_stepping_batches={total}, "
                f"max_steps={trainer.max_steps}); set max_steps or give the length in steps"
            )
        return _with_accumulation_schedule(trainer, int(total))
    per_epoch = trainer.num_training_batches
    epochs, max_steps = trainer.max_epochs, trainer.max_steps
    limits: list[int] = []
    if math.isfinite(per_epoch) and epochs is not None and epochs >= 0:
        limits.append(int(per_epoch) * max(int(epochs), 1))
    if max_steps is not None and max_steps >= 0:
        if manual:
            limits.append(math.ceil(max_steps / max(len(trainer.optimizers), 1)))
        else:
            accumulate = int(trainer.accumulate_grad_batches)
            if math.isfinite(per_epoch):
                per_epoch_steps = math.ceil(int(per_epoch) / accumulate)
                full, rest = divmod(max_steps, per_epoch_steps)
                limits.append(full * int(per_epoch) + min(rest * accumulate, int(per_epoch)))
            else:
                limits.append(max_steps * accumulate)
    if not limits or min(limits) < 1:
        raise ValueError(
            f"{who}: the number of training batches of this fit is unknown (num_training_batches={per_epoch}, "
            f"max_epochs={epochs}, max_steps={max_steps}); set max_steps or give the length in steps"
        )
    return min(limits)


def _with_accumulation_schedule(trainer: pl.Trainer, estimated: int) -> int:
    """The optimizer steps of a fit whose accumulation changes by epoch (``GradientAccumulationScheduler``).

    ``estimated_stepping_batches`` counts with the accumulation the fit starts with (1: the
    callback sets it at each epoch's start), so a schedule sized by it would run several times
    too long. Count as Lightning steps instead, as :class:`~lightning_schedulers.FitPlan` does:
    ``ceil(batches / accumulation)`` per epoch (the last window of an epoch steps at its end), at
    most ``max_steps``.
    """
    schedulers = [c for c in trainer.callbacks if isinstance(c, GradientAccumulationScheduler)]  # type: ignore[attr-defined]
    batches, epochs, max_steps = trainer.num_training_batches, trainer.max_epochs, trainer.max_steps
    if not schedulers or not math.isfinite(batches) or batches < 1 or epochs is None or epochs < 1 or max_steps == 0:
        return estimated
    # The preview's count of the same fit (num_training_batches is already per process).
    from lightning_schedulers.previews import FitPlan  # previews imports this module

    plan = FitPlan(
        max_epochs=int(epochs),
        max_steps=-1 if max_steps is None or max_steps < 0 else int(max_steps),
        batches_per_epoch=int(batches),
        accumulate_grad_batches=dict(schedulers[0].scheduling),
    )
    return plan.total_steps


def inside_accumulation_window(trainer: pl.Trainer) -> bool:
    """Whether the batches seen since the last optimizer step have not reached it yet (automatic optimization)."""
    accumulate = int(trainer.accumulate_grad_batches)
    if accumulate <= 1 or is_manual(trainer):
        return False
    progress = trainer.fit_loop.epoch_loop.batch_progress
    return progress.current.completed % accumulate != 0 and not progress.is_last_batch


def training_ends(trainer: pl.Trainer) -> bool:
    """Whether no further step will train (at the end of the last batch or epoch of the fit)."""
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps:
        return True
    max_epochs = trainer.max_epochs
    last_epoch = max_epochs is not None and max_epochs >= 0 and trainer.current_epoch + 1 >= max_epochs
    return bool(last_epoch and trainer.is_last_batch)
