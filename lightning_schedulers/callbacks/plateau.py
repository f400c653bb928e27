"""Plateau reduction on a logged metric, composable with any schedule of the same target.

``ReduceLROnPlateau`` reads ``trainer.callback_metrics[monitor]`` after every validation run
(``val_check_interval=0.25`` means four decisions an epoch; the sanity check is skipped), or at
the end of every training epoch when the fit runs no validation or
``check_on_train_epoch_end=True`` (a metric logged in training, ``on_epoch=True``), and decides
with torch's rule (:class:`~lightning_schedulers.plateau.PlateauState`). A reduction does not
overwrite the value: it multiplies the target by ``factor`` on top of whatever drives it. With
``base=None`` that is the value the target held when the fit started; with ``base=`` any scheduler
callback of this package, it is that schedule, so "warm up, then reduce on plateau" and "cosine,
scaled down on plateau" are one callback::

    warmup = ls.LinearLR(start_factor=0.01, total_iters=500, interval="step")
    trainer = pl.Trainer(callbacks=[ls.ReduceLROnPlateau("val_loss", patience=3, base=warmup)])

The base callback is driven by the plateau callback and must not also be passed to the Trainer.

Rank consistency: rank zero's metric value is broadcast to every rank before the decision, so all
ranks take the same decisions and write the same values even when the ranks logged different
values (without ``sync_dist``).

Examples:
    >>> import lightning_schedulers as ls
    >>> cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=2)
    >>> cb.interval
    'epoch'
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.options import ClockName, Interval, ResumePolicy
from lightning_schedulers.callbacks.reduce import _ReduceOnPlateau
from lightning_schedulers.targets import Attribute, ParamGroup, check_key, check_path

__all__ = ["ReduceAttributeOnPlateau", "ReduceLROnPlateau"]


class ReduceLROnPlateau(_ReduceOnPlateau):
    """Reduce a param-group value when ``monitor`` stops improving (torch's ``ReduceLROnPlateau``).

    The arguments and the decision rule are torch's; fed the same metric values, the lr after each
    validation equals torch's (to the last few ulps: the reduction is kept as a multiplier).

    Args:
        monitor: the logged metric to watch (``trainer.callback_metrics[monitor]``).
        mode: ``"min"`` or ``"max"``.
        factor: the multiplier applied at each reduction, in (0, 1).
        patience: validations without improvement tolerated before a reduction.
        threshold: the least change that counts as an improvement.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: validations after a reduction during which no bad validation is counted.
        min_lr: the floor reductions never go below: a float or one per param group.
        eps: a reduction that moves the value by ``eps`` or less is skipped.
        strict: a missing metric is an error; ``False`` warns once and leaves values unchanged.
        verbose: report each reduction once, on rank zero.
        base: a scheduler callback of this package whose schedule the reductions multiply;
            ``None`` reduces the value the target held at the start of the fit.
        param_name: the param-group key to reduce (``"lr"``, ``"weight_decay"``, any key).
        optimizer: index into ``trainer.optimizers``.
        param_group_index: reduce only this param group: its index, or its name (its ``"name"`` entry).
        name: logging name.
        save_history: keep the applied values in ``history``.
        logging_enabled: log the applied values (every reduction is logged at its step).
        on_resume: what a resumed fit does with the stored schedule (see the base class).
        clock: what the step clock counts (with ``base=None``, only the base's interval matters).
        check_on_train_epoch_end: where decisions are taken. ``False``: after every validation run
            (the sanity check excluded). ``True``: at the end of every training epoch, on what the
            epoch logged (``training_step`` with ``on_epoch=True``, ``on_train_epoch_end``, or that
            epoch's validation), as Lightning steps a plateau scheduler of ``configure_optimizers``.
            ``None`` (default): after every validation run when the fit validates, at the end of
            every training epoch when it does not.
        interval: decide exactly where Lightning steps a plateau scheduler returned from
            ``configure_optimizers`` with ``{"interval": interval, "frequency": frequency}`` (instead of
            ``check_on_train_epoch_end``, not with it). ``"step"``: after every ``frequency``-th
            training batch of an epoch (``(batch_idx + 1) % frequency == 0``, none while gradients
            accumulate), after that batch's validation if one runs, on what ``callback_metrics``
            holds then (a value logged in ``training_step``, ``on_step=True``, or the last
            validation's, read again at every decision as Lightning does); the reduction applies from
            the next batch. ``"epoch"``: at the end of every ``frequency``-th training epoch
            (``(current_epoch + 1) % frequency == 0``), on what it logged. Either way a missing metric
            is an error (``strict``). ``None`` (default): ``check_on_train_epoch_end`` decides. With
            ``base=None`` the callback's ``interval`` is this one; with a ``base``, the base's.
        frequency: with ``interval``, decide every this many batches (epochs); 1 by default.

    Examples:
        >>> import lightning_schedulers as ls
        >>> warmup = ls.LinearLR(start_factor=0.1, total_iters=100, interval="step")
        >>> cb = ReduceLROnPlateau("val_loss", patience=2, base=warmup)
        >>> cb.interval
        'step'
    """

    _floor_name = "min_lr"

    def __init__(
        self,
        monitor: str,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
        strict: bool = True,
        verbose: bool = False,
        *,
        base: SchedulerCallback | None = None,
        param_name: str = "lr",
        optimizer: int | str = 0,
        param_group_index: int | str | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
        clock: ClockName = "optimizer",
        check_on_train_epoch_end: bool | None = None,
        interval: Interval | None = None,
        frequency: int = 1,
    ) -> None:
        target = ParamGroup(
            check_key("param_name", param_name), optimizer=optimizer, param_group_index=param_group_index
        )
        super().__init__(
            monitor,
            target,
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
            strict,
            verbose,
            base,
            name,
            save_history,
            logging_enabled,
            on_resume,
            clock,
            check_on_train_epoch_end,
            interval,
            frequency,
        )

    def __repr__(self) -> str:
        s = self.state
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, mode={s.mode!r}, factor={self.factor!r}, "
            f"patience={s.patience}, threshold={s.threshold!r}, threshold_mode={s.threshold_mode!r}, "
            f"cooldown={s.cooldown}, min_lr={self.floor!r}, eps={self.eps!r}, target={self.target.describe()!r}, "
            f"base={self.base!r}{self._when()})"
        )


class ReduceAttributeOnPlateau(_ReduceOnPlateau):
    """Reduce a module attribute (a loss weight, a teacher-forcing ratio) when ``monitor`` stops improving.

    The same decision rule and arguments as :class:`ReduceLROnPlateau` (``check_on_train_epoch_end``,
    ``interval`` and ``frequency`` included), with ``param_name`` a dotted attribute path on the
    LightningModule and ``floor`` in place of ``min_lr``.

    Examples:
        >>> cb = ReduceAttributeOnPlateau("val_loss", "teacher_forcing", factor=0.5, patience=0, floor=0.1)
        >>> cb.target.describe()
        'attribute:teacher_forcing'
    """

    def __init__(
        self,
        monitor: str,
        param_name: str,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        floor: float = 0.0,
        eps: float = 1e-8,
        strict: bool = True,
        verbose: bool = False,
        *,
        base: SchedulerCallback | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
        clock: ClockName = "optimizer",
        check_on_train_epoch_end: bool | None = None,
        interval: Interval | None = None,
        frequency: int = 1,
    ) -> None:
        super().__init__(
            monitor,
            Attribute(check_path("param_name", param_name)),
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            floor,
            eps,
            strict,
            verbose,
            base,
            name,
            save_history,
            logging_enabled,
            on_resume,
            clock,
            check_on_train_epoch_end,
            interval,
            frequency,
        )

    def __repr__(self) -> str:
        s = self.state
        return (
            f"ReduceAttributeOnPlateau(monitor={self.monitor!r}, param_name={self.target.describe()!r}, "
            f"mode={s.mode!r}, factor={self.factor!r}, patience={s.patience}, threshold={s.threshold!r}, "
            f"threshold_mode={s.threshold_mode!r}, cooldown={s.cooldown}, floor={self.floor!r}, eps={self.eps!r}, "
            f"base={self.base!r}{self._when()})"
        )
