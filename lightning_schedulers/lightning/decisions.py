"""When plateau decisions happen in a Trainer fit, and what a checkpoint written between two hooks loses.

A plateau callback decides after every validation run, or at the end of every training epoch
(``check_on_train_epoch_end``); :class:`Decisions` keeps one fit's bookkeeping of that. The
checks below read Lightning's loop state to tell whether a checkpoint written now falls between
a batch and the validation (or epoch end) due after it, whose decision a resumed fit would skip.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.model_helpers import is_overridden

from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.plateau import PlateauState

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.reduce import _ReduceOnPlateau

__all__ = [
    "Decisions",
    "epoch_end_due_now",
    "extra_problem",
    "has_validation",
    "missing_metric_message",
    "read_metric",
    "same_tensor",
    "shared_reading",
    "step_decision_due",
    "validation_skipped",
    "validation_due_now",
    "warn_lost_decision",
]


class Decisions:
    """Where and when one fit's plateau decisions happen (made when the fit starts, dropped with its run).

    ``active`` is the bound target the reductions act on; ``metric_before`` / ``epoch_snapshot``
    the monitor's value when a validation run / an epoch started (a value that is the same object
    at its end was not logged again); ``epoch_deferred`` whether this epoch's decision waits for
    metrics logged after this callback's hook.

    With ``interval=`` given (Lightning's scheduler-config rules, ``exact``): ``at_steps`` decides
    after training batches, ``every`` is the ``frequency``; ``step_due`` says a batch's decision
    waits for the next batch start (or the epoch's end), and ``step_snapshot`` holds the monitor as
    Lightning would read it after that batch (its validation included), for the epoch's end, where
    ``callback_metrics`` already shows the epoch's aggregates.
    """

    __slots__ = (
        "active",
        "at_epoch_end",
        "at_steps",
        "epoch_deferred",
        "epoch_snapshot",
        "every",
        "exact",
        "metric_before",
        "step_due",
        "step_snapshot",
        "trainer",
        "validates",
        "validations_seen",
    )

    def __init__(
        self,
        trainer: pl.Trainer | None,
        at_epoch_end: bool,
        validates: bool,
        *,
        at_steps: bool = False,
        every: int = 1,
        exact: bool = False,
    ) -> None:
        self.trainer = trainer
        self.at_epoch_end = at_epoch_end
        self.validates = validates
        self.at_steps = at_steps
        self.every = every
        self.exact = exact
        self.active: Active | None = None
        self.metric_before: Any = None
        self.epoch_snapshot: Any = None
        self.epoch_deferred = False
        self.validations_seen = 0
        self.step_due = False
        self.step_snapshot: Any = None

    def epoch_due(self, epoch: int) -> bool:
        """Whether the end of ``epoch`` decides (Lightning: ``(current_epoch + 1) % frequency == 0``)."""
        return (epoch + 1) % self.every == 0


def step_decision_due(trainer: pl.Trainer, batch_idx: int, every: int) -> bool:
    """Whether Lightning steps a step-interval plateau scheduler after this batch (at its ``on_train_batch_end``).

    As ``_TrainingEpochLoop.update_lr_schedulers("step", update_plateau_schedulers=True)``: not while
    gradients accumulate, and when ``(batch_idx + 1) % frequency == 0`` (``batch_idx`` counts the
    batches of this epoch).
    """
    if (batch_idx + 1) % every:
        return False
    try:
        return not trainer.fit_loop.epoch_loop._should_accumulate()
    except AttributeError:  # another Lightning version: the batches of the window so far, counted here
        accumulate = int(trainer.accumulate_grad_batches)
        return accumulate <= 1 or (batch_idx + 1) % accumulate == 0 or bool(trainer.is_last_batch)


def has_validation(trainer: pl.Trainer) -> bool:
    """Whether this fit will run validation: Lightning's own test, and an epoch that validates.

    Lightning validates during a fit when the module has a ``validation_step``, a val dataloader is
    defined (passed to ``fit``, by the module or a datamodule) and ``limit_val_batches > 0``; with
    ``check_val_every_n_epoch`` beyond ``max_epochs`` no epoch validates.
    """
    module = trainer.lightning_module
    if module is None or not is_overridden("validation_step", module) or trainer.limit_val_batches == 0:
        return False
    try:
        if not trainer.fit_loop.epoch_loop.val_loop._data_source.is_defined():
            return False  # validation_step, but no val dataloader for this fit
    except AttributeError:  # another Lightning version: assume it validates
        pass
    every, epochs = trainer.check_val_every_n_epoch, trainer.max_epochs
    return not (every is not None and epochs is not None and 0 <= epochs < every)


def validation_skipped(trainer: pl.Trainer) -> bool:
    """At an epoch's end: Lightning was to validate after this epoch, and its val loop had no batches to run."""
    loop = trainer.fit_loop.epoch_loop
    try:
        return bool(loop._should_check_val_epoch()) and bool(loop.val_loop.skip)
    except AttributeError:  # another Lightning version: cannot tell
        return False


def validation_due_now(trainer: pl.Trainer) -> bool:
    """Whether a checkpoint written now falls between a training batch and the validation due after it.

    True only while the batch's ``on_train_batch_end`` runs (where ``ModelCheckpoint(every_n_train_steps)``
    saves) and Lightning's loop will validate after it; a fit resumed from such a checkpoint skips
    that validation.
    """
    try:
        loop = trainer.fit_loop.epoch_loop
        progress: Any = loop.batch_progress.total
        fetcher = trainer.fit_loop._data_fetcher
        if trainer.sanity_checking or fetcher is None or progress.processed != progress.completed + 1:
            return False
        return bool(loop._should_check_val_fx(fetcher))
    except (AttributeError, TypeError):  # another Lightning version: cannot tell
        return False


def epoch_end_due_now(trainer: pl.Trainer) -> bool:
    """Whether a checkpoint written now falls between an epoch's last training batch and the epoch's end.

    True only while that batch's ``on_train_batch_end`` runs (where ``ModelCheckpoint(every_n_train_steps)``
    saves); a fit resumed from such a checkpoint starts at the next epoch without ending this one.
    """
    try:
        loop = trainer.fit_loop.epoch_loop
        progress: Any = loop.batch_progress.total
        if trainer.sanity_checking or progress.processed != progress.completed + 1:
            return False
        return bool(loop._num_ready_batches_reached())
    except (AttributeError, TypeError):  # another Lightning version: cannot tell
        return False


def extra_problem(extra: dict[str, Any], mode: str) -> str | None:
    """What is wrong with a plateau callback's ``extra`` checkpoint state, or ``None``."""
    plateau = extra.get("plateau")
    if plateau is None and not extra:
        return None  # written before the fit bound anything
    if not isinstance(plateau, dict):
        return f"extra['plateau'] is {plateau!r}"
    try:
        PlateauState(mode).load_state_dict(plateau)
    except (KeyError, TypeError, ValueError) as error:
        return f"extra['plateau'] is {plateau!r} ({type(error).__name__}: {error})"
    multipliers = extra.get("multipliers")
    if multipliers is not None and (
        not isinstance(multipliers, list)
        or not all(isinstance(m, (int, float)) and not isinstance(m, bool) and 0 < m <= 1 for m in multipliers)
    ):
        return f"extra['multipliers'] is {multipliers!r}"
    base = extra.get("base", {})
    if not isinstance(base, dict):
        return f"extra['base'] is {base!r}"
    for key in ("epoch_metric", "step_metric"):
        metric = extra.get(key)
        if metric is not None and (not isinstance(metric, (int, float)) or isinstance(metric, bool)):
            return f"extra[{key!r}] is {metric!r}"
    return None


def warn_lost_decision(callback: _ReduceOnPlateau, restored: dict[str, Any], decision: int) -> None:
    """A checkpoint written between a batch and the epoch end (or validation) due after it: that decision is lost."""
    who, monitor = type(callback).__name__, callback.monitor
    if restored.get("pending_epoch_end"):
        rank_zero_warn(
            f"{who}: the checkpoint was saved after the last training batch of an epoch, "
            f"before the epoch's end; Lightning does not run that end when resuming, so the plateau decision "
            f"it would have taken (decision {decision} on {monitor!r}) is lost and later "
            "reductions may differ from an uninterrupted fit. Save checkpoints at the end of epochs instead: "
            "ModelCheckpoint(save_on_train_epoch_end=True), or an every_n_train_steps that does not end an "
            "epoch."
        )
    if restored.get("pending_validation"):
        rank_zero_warn(
            f"{who}: the checkpoint was saved after the last training batch before a "
            f"validation run, before that run; Lightning does not run it when resuming, so the plateau "
            f"decision it would have taken (decision {decision} on {monitor!r}) is lost "
            "and later reductions may differ from an uninterrupted fit. Save checkpoints after validation "
            "instead: ModelCheckpoint(monitor=...) or every_n_epochs, or an every_n_train_steps that is not "
            "a multiple of the validation interval."
        )


_UNREADABLE = "unreadable:"


def same_tensor(metric: Any, before: Any) -> bool:
    """Whether ``metric`` is the very tensor read before: Lightning logs a new tensor every time.

    Plain Python numbers written into ``callback_metrics`` cannot be told apart that way (the same
    float object may be written again on purpose): they always count as new.
    """
    return isinstance(metric, torch.Tensor) and metric is before


def read_metric(who: str, monitor: str, metric: Any) -> float | str:
    """The metric as a float, or a message (marked) saying why it is not one number."""
    what = f"{who}: monitor {monitor!r}"
    if isinstance(metric, torch.Tensor) and (metric.numel() != 1 or metric.is_meta):
        return (
            f"{_UNREADABLE}{what} is a tensor of shape {tuple(metric.shape)} on device {metric.device}; a "
            "plateau decision needs one number: log a scalar (a mean over the batch, say)"
        )
    try:
        return float(metric)
    except (TypeError, ValueError, RuntimeError) as error:
        return f"{_UNREADABLE}{what} is {metric!r} ({type(metric).__name__}), not a number: {error}"


def shared_reading(host: Any, who: str, monitor: str, metric: Any, stale: bool) -> float | str | None:
    """Rank zero's reading, on every rank: a float, ``"stale"``, or ``None`` when missing.

    Every rank decides on rank zero's value: identical state and values everywhere. A missing or
    unreadable metric travels too, so all ranks raise, skip or wait together rather than hang.
    """
    value: float | str | None = "stale" if stale else (None if metric is None else read_metric(who, monitor, metric))
    shared: float | str | None = host.broadcast(value)
    if isinstance(shared, str) and shared.startswith(_UNREADABLE):
        raise ValueError(shared[len(_UNREADABLE) :])
    return shared


def missing_metric_message(who: str, monitor: str, available: list[str], when: str, where: str) -> str:
    """Why no decision was taken: the monitor is not logged (``where``: ``"validation"``, ``"epoch"`` or ``"loop"``)."""
    if monitor in available:
        # Logged here, but every rank decides on rank zero's value, and rank zero has none.
        return (
            f"{who}: {when}, monitor {monitor!r} was logged on this rank but not on rank zero, whose value every "
            "rank decides on; log it on every rank (sync_dist=True, or without rank_zero_only)"
        )
    close = difflib.get_close_matches(monitor, available, n=1)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    elif where == "loop":
        hint = "; pass it as bound.step(metrics={...}) or bound.report({...})"
    elif where == "epoch":
        hint = "; log it in training_step (on_epoch=True), on_train_epoch_end or validation"
    else:
        hint = (
            "; if it is logged during training (on_epoch=True) or in on_train_epoch_end, pass "
            "check_on_train_epoch_end=True to decide at the end of each training epoch"
        )
    return f"{who}: {when}, monitor {monitor!r} is not among the logged metrics {available}{hint}"
