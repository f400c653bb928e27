"""What the family classes share: the lr-scheduler base (torch, optax, modern), per-group arguments, lengths.

A family class maps its library's arguments onto the pure layer; this base supplies the target
(one optimizer's param groups), the common keyword arguments, ``repr`` and the checkpoint
fingerprint, which are derived from the constructor's signature (see
:meth:`~lightning_schedulers.callbacks.base.SchedulerCallback._arguments`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import lightning.pytorch as pl

from lightning_schedulers._validation import check_float, check_param_group, check_sequence
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import ClockName, Count, Interval, ResumePolicy
from lightning_schedulers.schedules.base import Schedule, with_fractions
from lightning_schedulers.schedules.composition import Scale, name_functions
from lightning_schedulers.schedules.durations import TrainingFraction, contains_fraction
from lightning_schedulers.targets import ParamGroup, check_optimizer


def _per_group(name: str, value: Any, count: int, check: Callable[[str, Any], Any]) -> list[Any]:
    """A scalar broadcast to every group, or a list with exactly one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"`{name}` has {len(value)} values but the optimizer has {count} param group(s)")
        return [check(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return [check(name, value)] * count


def _float_or_list(name: str, value: Any, **kwargs: Any) -> float | tuple[float, ...]:
    if isinstance(value, (list, tuple)):
        items = check_sequence(name, value)
        return tuple(check_float(f"{name}[{i}]", v, **kwargs) for i, v in enumerate(items))
    return check_float(name, value, **kwargs)


def growth_ceiling(rate: float) -> float | None:
    """The ``end`` of an exponential factor: none for a decay, ``inf`` for growth (as torch, unbounded).

    Growth that overflows float64 is then an error naming the argument at the first event that
    overflows, never a saturated or infinite value.
    """
    return None if rate <= 1.0 else math.inf


def _function_arguments(callback: object) -> dict[int, str]:
    """The user functions among ``callback``'s arguments, by identity: ``{id(fn): "lr_lambda"}``.

    Lists of functions give ``name[i]``; a function given twice keeps its first name.
    """
    names: dict[int, str] = {}
    for name, value in vars(callback).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if callable(item) and not isinstance(item, (type, SchedulerCallback, Schedule)):
                    names.setdefault(id(item), f"{name}[{i}]")
        elif callable(value) and not isinstance(value, (type, SchedulerCallback, Schedule)):
            names.setdefault(id(value), name)
    return names


class _TorchLRScheduler(SchedulerCallback):
    """Common machinery: the lr target, the per-class default interval, composition hooks."""

    _default_interval: ClassVar[Interval] = "epoch"
    #: True when torch's recursive update multiplies the current lr by a ratio of this class's
    #: own factor, so that chaining (``ChainedScheduler``) multiplies the factors.
    _chainable: bool = False

    def __init__(
        self,
        *,
        interval: Interval | None = None,
        optimizer: int | str = 0,
        param_group_index: int | str | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
        clock: ClockName = "optimizer",
        count: Count | None = None,
    ) -> None:
        super().__init__(
            interval=self._default_interval if interval is None else interval,
            name=name,
            save_history=save_history,
            logging_enabled=logging_enabled,
            on_resume=on_resume,
            clock=clock,
            count=count,
        )
        self.optimizer = check_optimizer(optimizer)
        self.param_group_index = check_param_group("param_group_index", param_group_index)

    # -- what subclasses define
    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        """Absolute lr schedule of each group, given each group's initial lr."""
        return [Scale(factor, base) for factor, base in zip(self._factors(len(bases)), bases, strict=True)]

    def _factors(self, count: int) -> list[Schedule]:
        """Each group's lr as a factor of its initial lr (multiplicative classes only)."""
        raise NotImplementedError

    def _sequential_piece(self, bases: list[float], previous: list[float]) -> list[Schedule]:
        """This scheduler's lr schedules when ``SequentialLR`` switches to it in local time.

        ``previous`` holds each group's lr at the step before the switch.
        """
        return self._lr_schedules(bases)

    def _slots(self) -> int | None:
        """The group count implied by per-group list arguments, if any."""
        return None

    def _extra_bindings(self) -> tuple[Binding, ...]:
        return ()

    # -- shared
    def _target(self, key: str = "lr") -> ParamGroup:
        return ParamGroup(key, optimizer=self.optimizer, param_group_index=self.param_group_index)

    def _bindings(self) -> tuple[Binding, ...]:
        lr = Binding(self._target(), builder=self._named_lr_schedules, slots=self._slots())
        return (lr, *self._extra_bindings())

    def _named_lr_schedules(self, bases: list[float]) -> list[Schedule]:
        """:meth:`_lr_schedules`, with its errors and user functions named by this class's arguments.

        A check of lengths given as fractions of training names the fractions; a user function
        (``lr_lambda``) that returns NaN is then reported under its argument's name.
        """
        try:
            schedules = self._lr_schedules(bases)
        except (TypeError, ValueError) as error:
            raise self._with_fractions(error) from None
        names = _function_arguments(self)
        if not names:
            return schedules
        return [name_functions(schedule, lambda fn: names.get(id(fn))) for schedule in schedules]

    def _with_fractions(self, error: Exception) -> Exception:
        """``error`` with the arguments given as fractions of training, when some were (see ``with_fractions``)."""
        given = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if not any(contains_fraction(v) for v in given.values()):
            return error
        try:
            total = self._durations_total()
        except ValueError:
            return error
        return with_fractions(error, given, total)

    def __repr__(self) -> str:
        common = f"interval={self.interval!r}, optimizer={self.optimizer}, param_group_index={self.param_group_index}"
        return f"{type(self).__name__}({self._describe_arguments()}, {common})"


class _TotalFromTrainer(_TorchLRScheduler):
    """A scheduler whose length is given in events, as a fraction of the fit, or (``None``) is the fit.

    The length is resolved when the fit starts and the fit's length is kept in the checkpoint, so a
    resumed fit keeps the length it started with (see ``on_resume``). ``simulate(n)`` without a
    length in events previews a fit of ``n`` events. Past the end the last value holds, with a
    warning once.
    """

    _length: int | TrainingFraction = TrainingFraction(1.0)
    _total: int | None = None

    def _set_total(self, total: int | TrainingFraction | None) -> None:
        self._length = TrainingFraction(1.0) if total is None else total
        if isinstance(self._length, int):
            # Other lengths given as fractions of training are only known when the fit starts:
            # the check runs then (and in simulate), naming them.
            if not any(contains_fraction(v) for k, v in vars(self).items() if not k.startswith("_")):
                self._check_total(self._length)
            self._total = self._horizon = self._length

    def _check_total(self, total: int) -> None:
        """Reject a length the schedule cannot use."""

    def _resolved_total(self) -> int:
        return self._dur(self._length)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        total = self._resolved_total()
        try:
            self._check_total(total)
        except (TypeError, ValueError) as error:
            raise self._with_fractions(error) from None
        self._total = total
        self._horizon = total
