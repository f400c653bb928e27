"""pytorch-ignite's parameter schedulers as Lightning callbacks, with ignite's names.

``CosineAnnealingScheduler``, ``LinearCyclicalScheduler``, ``PiecewiseLinear``,
``ConcatScheduler`` and :func:`create_lr_scheduler_with_warmup` write any param-group key named by
``param_name``; ignite's state schedulers (a module attribute) are in
:mod:`lightning_schedulers.families.ignite_state`. All default to ``interval="step"``.

Event ``t`` is applied while step (or epoch) ``t`` trains, as ignite's optimizer schedulers
attached to ``ITERATION_STARTED`` do, so values equal ignite's ``simulate_values`` event for
event (to the stated tolerance; see the documentation's numeric contract).

Examples:
    >>> import lightning_schedulers as ls
    >>> ls.LinearCyclicalScheduler("lr", 1.0, 0.0, cycle_size=4).simulate(5).tolist()
    [1.0, 0.5, 0.0, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

from lightning_schedulers._validation import check_bool, check_float, check_param_group, check_sequence
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import (
    ClockName,
    ConcatOptions,
    Count,
    IgniteOptions,
    Interval,
    ResumePolicy,
    Unpack,
)
from lightning_schedulers.families.common import _TorchLRScheduler
from lightning_schedulers.schedules.base import Schedule, with_fractions
from lightning_schedulers.schedules.composition import Join, Shift
from lightning_schedulers.schedules.durations import Duration, TrainingFraction, check_duration
from lightning_schedulers.schedules.references import CyclicalAnneal
from lightning_schedulers.schedules.shapes import PiecewiseLinear as PiecewiseLinearSchedule
from lightning_schedulers.targets import Attribute, ParamGroup, check_key, check_optimizer, check_path

__all__ = [
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "LinearCyclicalScheduler",
    "PiecewiseLinear",
    "create_lr_scheduler_with_warmup",
]


def _pairs(value: Any) -> tuple[tuple[int | TrainingFraction, float], ...]:
    items = check_sequence("milestones_values", value)
    pairs = []
    for i, pair in enumerate(items):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"`milestones_values[{i}]` must be a (milestone, value) pair, got {pair!r}")
        pairs.append((check_duration(f"milestones_values[{i}][0]", pair[0], minimum=0), pair[1]))
    for i in range(1, len(pairs)):
        a, b = pairs[i - 1][0], pairs[i][0]
        if isinstance(a, int) and isinstance(b, int) and b < a:  # fractions are ordered when resolved
            raise ValueError(f"`milestones_values` milestones must be increasing, got {b} after {a}")
    return tuple((m, check_float(f"milestones_values[{i}][1]", v)) for i, (m, v) in enumerate(pairs))


class _IgniteScheduler(SchedulerCallback):
    """One schedule for a param-group key (optimizer schedulers) or an attribute (state schedulers)."""

    _state: ClassVar[bool] = False

    def __init__(
        self,
        param_name: str,
        *,
        save_history: bool = False,
        param_group_index: int | str | None = None,
        create_new: bool = False,
        interval: Interval = "step",
        optimizer: int | str = 0,
        name: str | None = None,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
        clock: ClockName = "optimizer",
        count: Count | None = None,
    ) -> None:
        super().__init__(
            interval=interval,
            name=name,
            save_history=save_history,
            logging_enabled=logging_enabled,
            on_resume=on_resume,
            clock=clock,
            count=count,
        )
        self.param_name = (check_path if self._state else check_key)("param_name", param_name)
        self.param_group_index = check_param_group("param_group_index", param_group_index)
        self.optimizer = check_optimizer(optimizer)
        self.create_new = check_bool("create_new", create_new)
        if self._state:
            Attribute(self.param_name, create_new=self.create_new)  # validates the path now

    def _schedule(self) -> Schedule:
        raise NotImplementedError

    def _target(self) -> ParamGroup | Attribute:
        if self._state:
            return Attribute(self.param_name, create_new=self.create_new)
        return ParamGroup(self.param_name, optimizer=self.optimizer, param_group_index=self.param_group_index)

    def _group_schedules(self, bases: list[float]) -> list[Schedule]:
        return [self._schedule()] * len(bases)

    def _bindings(self) -> tuple[Binding, ...]:
        return (Binding(self._target(), (self._schedule(),)),)

    def __repr__(self) -> str:
        args = self._describe_arguments()
        return f"{type(self).__name__}({args}, param_name={self.param_name!r}, interval={self.interval!r})"


_ANNEAL_ARGUMENTS = ("start_value", "end_value", "cycle_size", "cycle_mult", "start_value_mult", "end_value_mult")


def _keep_anneal_arguments(callback: SchedulerCallback, anneal: CyclicalAnneal) -> None:
    """Keep the validated cycle arguments as the callback's attributes (``repr``, fingerprint)."""
    for name in (*_ANNEAL_ARGUMENTS, "warmup_duration"):
        setattr(callback, name, getattr(anneal, name))


class _Cyclical(_IgniteScheduler):
    _shape: ClassVar[str]

    def __init__(
        self,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: Duration,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: Duration = 0,
        save_history: bool = False,
        param_group_index: int | str | None = None,
        **kwargs: Unpack[IgniteOptions],
    ) -> None:
        super().__init__(param_name, save_history=save_history, param_group_index=param_group_index, **kwargs)
        self._anneal = CyclicalAnneal(
            self._shape_name(),
            start_value,
            end_value,
            cycle_size,
            cycle_mult,
            start_value_mult,
            end_value_mult,
            warmup_duration,
        )
        _keep_anneal_arguments(self, self._anneal)

    def _shape_name(self) -> str:
        return self._shape

    def _schedule(self) -> Schedule:
        return self._anneal


class CosineAnnealingScheduler(_Cyclical):
    """ignite's ``CosineAnnealingScheduler``: cosine cycles from ``start_value`` to ``end_value``.

    Args:
        param_name: the param-group key to schedule (``"lr"``, ``"momentum"``, any key).
        start_value: value at the start of each cycle.
        end_value: value at the end of each cycle.
        cycle_size: events per cycle (>= 2).
        cycle_mult: growth of the cycle (and warmup) length after each cycle, truncated to an int.
        start_value_mult: factor applied to ``start_value`` when a cycle reaches its end.
        end_value_mult: factor applied to ``end_value`` when a new cycle begins.
        warmup_duration: events of linear warmup from the end back to the start after each cycle.
        save_history: keep the applied values in ``history``.
        param_group_index: schedule only this param group: its index, or its name (its ``"name"`` entry).
        **kwargs: ``interval`` (``"step"``), ``optimizer``, ``name``, ``logging_enabled``.

    Examples:
        >>> cb = CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=4)
        >>> cb.simulate(5).round(3).tolist()
        [1.0, 0.854, 0.5, 0.146, 1.0]
    """

    _shape = "cosine"


class LinearCyclicalScheduler(_Cyclical):
    """ignite's ``LinearCyclicalScheduler``: linear cycles (down and back up, or ``monotonic``).

    Takes the arguments of :class:`CosineAnnealingScheduler` plus ``monotonic``; a
    ``warmup_duration`` needs ``monotonic=True``, as in ignite.

    Examples:
        >>> LinearCyclicalScheduler("lr", 1.0, 0.0, cycle_size=4).simulate(5).tolist()
        [1.0, 0.5, 0.0, 0.5, 1.0]
    """

    _shape = "linear"

    def __init__(
        self,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: Duration,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: Duration = 0,
        save_history: bool = False,
        param_group_index: int | str | None = None,
        *,
        monotonic: bool = False,
        **kwargs: Unpack[IgniteOptions],
    ) -> None:
        self.monotonic = check_bool("monotonic", monotonic)
        super().__init__(
            param_name,
            start_value,
            end_value,
            cycle_size,
            cycle_mult,
            start_value_mult,
            end_value_mult,
            warmup_duration,
            save_history,
            param_group_index,
            **kwargs,
        )

    def _shape_name(self) -> str:
        return "linear_monotonic" if self.monotonic else "linear"


class PiecewiseLinear(_IgniteScheduler):
    """ignite's ``PiecewiseLinear``: linear between ``(milestone, value)`` pairs, held outside.

    Examples:
        >>> PiecewiseLinear("lr", [(0, 0.0), (4, 1.0)]).simulate(6).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        param_name: str,
        milestones_values: Sequence[tuple[Duration, float]],
        save_history: bool = False,
        param_group_index: int | str | None = None,
        **kwargs: Unpack[IgniteOptions],
    ) -> None:
        super().__init__(param_name, save_history=save_history, param_group_index=param_group_index, **kwargs)
        self.milestones_values = _pairs(milestones_values)

    def _schedule(self) -> Schedule:
        return PiecewiseLinearSchedule(self.milestones_values)


def _member_schedules(member: SchedulerCallback, bases: list[float]) -> list[Schedule]:
    if isinstance(member, _TorchLRScheduler):
        return member._lr_schedules(bases)
    if isinstance(member, (_IgniteScheduler, _Composite)):
        return member._group_schedules(bases)
    raise TypeError(f"cannot compose {type(member).__name__}")  # pragma: no cover - checked at construction


def _member_key(member: SchedulerCallback) -> tuple[str, int | str, int | str | None]:
    if isinstance(member, _TorchLRScheduler):
        return "lr", member.optimizer, member.param_group_index
    # _check_composable admitted only these kinds
    ignite = cast("_IgniteScheduler | _Composite", member)
    return ignite.param_name, ignite.optimizer, ignite.param_group_index


def _check_composable(name: str, value: Any, index: int | None = None) -> SchedulerCallback:
    label = name if index is None else f"{name}[{index}]"
    ok = isinstance(value, (_TorchLRScheduler, _Composite)) or (
        isinstance(value, _IgniteScheduler) and not value._state
    )
    if not ok:
        raise TypeError(
            f"`{label}` must be an optimizer scheduler of this package (an ignite- or torch-family "
            f"callback, a ConcatScheduler or a warmup from create_lr_scheduler_with_warmup), got {value!r}"
        )
    if getattr(value, "cycle_momentum", False):
        raise ValueError(
            f"`{label}` ({type(value).__name__}) cycles momentum, which is not composed; pass cycle_momentum=False"
        )
    return value  # type: ignore[no-any-return]


class _Composite(SchedulerCallback):
    """A callback whose per-group schedules are assembled from member schedulers."""

    def __init__(
        self, key: tuple[str, int | str, int | str | None], save_history: bool, **kwargs: Unpack[ConcatOptions]
    ) -> None:
        super().__init__(save_history=save_history, **kwargs)
        self.param_name, self.optimizer, self.param_group_index = key

    def _group_schedules(self, bases: list[float]) -> list[Schedule]:
        raise NotImplementedError

    def _bindings(self) -> tuple[Binding, ...]:
        target = ParamGroup(self.param_name, optimizer=self.optimizer, param_group_index=self.param_group_index)
        return (Binding(target, builder=self._group_schedules),)


class ConcatScheduler(_Composite):
    """ignite's ``ConcatScheduler``: run schedulers one after another for the given ``durations``.

    Each scheduler runs in its own local time from the event where it starts; all must drive the
    same param-group key of the same optimizer. Members may be ignite- or torch-family callbacks
    (their own ``interval`` and logging settings are not used).

    Examples:
        >>> a = LinearCyclicalScheduler("lr", 0.0, 1.0, cycle_size=4, monotonic=True)
        >>> b = CosineAnnealingScheduler("lr", 1.0, 0.0, cycle_size=4)
        >>> ConcatScheduler([a, b], durations=[4]).simulate(6).round(3).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0, 0.854]
    """

    def __init__(
        self,
        schedulers: Sequence[SchedulerCallback],
        durations: Sequence[Duration],
        save_history: bool = False,
        **kwargs: Unpack[ConcatOptions],
    ) -> None:
        members = [
            _check_composable("schedulers", s, i) for i, s in enumerate(check_sequence("schedulers", schedulers))
        ]
        if len(members) < 2:
            raise ValueError(f"`schedulers` must hold at least 2 schedulers, got {len(members)}")
        durs = check_sequence("durations", durations)
        if len(durs) != len(members) - 1:
            raise ValueError(
                f"`durations` must have len(schedulers) - 1 = {len(members) - 1} entries, "
                f"got {len(durs)}: {durations!r}"
            )
        self.durations = tuple(check_duration(f"durations[{i}]", d, minimum=1) for i, d in enumerate(durs))
        keys = {_member_key(m) for m in members}
        if len(keys) != 1:
            raise ValueError(
                "all `schedulers` must drive the same (param_name, optimizer, param_group_index), "
                f"got {sorted(keys, key=str)}"
            )
        super().__init__(keys.pop(), save_history=save_history, **kwargs)
        self.schedulers = members
        for member in members:
            member._length_owner = self  # members' fractions resolve against this fit

    def _group_schedules(self, bases: list[float]) -> list[Schedule]:
        per_member = [self._resolved(_member_schedules(m, bases)) for m in self.schedulers]
        bounds, total = [], 0
        for d in self.durations:
            total += self._dur(d)
            bounds.append(total)
        return [Join(tuple(p[j] for p in per_member), tuple(bounds)) for j in range(len(bases))]

    def __repr__(self) -> str:
        return f"ConcatScheduler({self.schedulers!r}, durations={list(self.durations)}, interval={self.interval!r})"


class _WarmupScheduler(_Composite):
    """The callback :func:`create_lr_scheduler_with_warmup` returns."""

    def __init__(
        self,
        lr_scheduler: SchedulerCallback,
        warmup_start_value: float,
        warmup_duration: Duration,
        warmup_end_value: float | None,
        save_history: bool,
        **kwargs: Unpack[ConcatOptions],
    ) -> None:
        self.lr_scheduler = _check_composable("lr_scheduler", lr_scheduler)
        self.warmup_start_value = check_float("warmup_start_value", warmup_start_value)
        self.warmup_duration = check_duration("warmup_duration", warmup_duration, minimum=2)
        self.warmup_end_value = None if warmup_end_value is None else check_float("warmup_end_value", warmup_end_value)
        super().__init__(_member_key(self.lr_scheduler), save_history=save_history, **kwargs)
        self.lr_scheduler._length_owner = self

    def _group_schedules(self, bases: list[float]) -> list[Schedule]:
        out: list[Schedule] = []
        start, w = self.warmup_start_value, self._dur(self.warmup_duration)
        if w < 2:  # a fraction of training resolved below ignite's minimum
            error = ValueError(f"`warmup_duration` must be >= 2, got {w}")
            raise with_fractions(error, {"warmup_duration": self.warmup_duration}, self._durations_total())
        torch_member = isinstance(self.lr_scheduler, _TorchLRScheduler)
        after_schedules = self._resolved(_member_schedules(self.lr_scheduler, bases))
        for base, after in zip(bases, after_schedules, strict=True):
            init = after.value(0)
            if torch_member:
                # ignite: the warmup ends at the group's lr, which torch's scheduler has set to its
                # first value; the torch scheduler then continues from its second value.
                end = init if self.warmup_end_value is None else self.warmup_end_value
                points = [(0, start), (w - 1, end)] + ([] if init == end else [(w, init)])
                after = Shift(after, 1)
            else:
                end = base if self.warmup_end_value is None else self.warmup_end_value
                points = [(0, start), (w - 1, end)]
                if init == end:
                    # ignite avoids showing the end value twice: the warmup stops one step short.
                    if w > 2:
                        points[-1] = (w - 2, end - (end - start) / (w - 1))
                    else:
                        points.pop()
            duration = points[-1][0] + 1
            out.append(Join((PiecewiseLinearSchedule(tuple(points)), after), (duration,)))
        return out

    def __repr__(self) -> str:
        return (
            f"create_lr_scheduler_with_warmup({self.lr_scheduler!r}, warmup_start_value={self.warmup_start_value!r}, "
            f"warmup_duration={self.warmup_duration}, warmup_end_value={self.warmup_end_value!r}, "
            f"interval={self.interval!r})"
        )


def create_lr_scheduler_with_warmup(
    lr_scheduler: SchedulerCallback,
    warmup_start_value: float,
    warmup_duration: Duration,
    warmup_end_value: float | None = None,
    save_history: bool = False,
    **kwargs: Unpack[ConcatOptions],
) -> SchedulerCallback:
    """A linear warmup followed by ``lr_scheduler``, with the values of ignite's helper of the same name.

    The warmup goes from ``warmup_start_value`` to ``warmup_end_value`` (each group's lr when
    ``None``) over ``warmup_duration`` events; then ``lr_scheduler`` (any optimizer scheduler of
    this package: an ignite- or torch-family callback, a :class:`ConcatScheduler`) runs in its own
    local time. As in ignite, when the wrapped
    scheduler starts exactly at the warmup's end value the warmup stops one event short, so the
    end value is reached once, by the wrapped scheduler; a torch-family scheduler continues from
    its second value. Unlike ignite's helper around a plateau scheduler, the warmup always reaches
    its end value: plateau reduction composes on top (see the documentation's plateau page). With several param groups
    each group warms up to its own end value over its own length; ignite takes the length of the
    last group for all of them (and, around a torch scheduler with ``warmup_end_value`` set, drops
    the return to the scheduler's first value), so the two agree for one group or equal lrs.

    Args:
        lr_scheduler: the scheduler to run after the warmup.
        warmup_start_value: the first warmup value.
        warmup_duration: warmup events, at least 2.
        warmup_end_value: the value the warmup reaches; each group's lr when ``None``.
        save_history: keep the applied values in ``history``.
        **kwargs: ``interval`` (``"step"``), ``name``, ``logging_enabled``.

    Returns:
        A callback applying the warmup and then ``lr_scheduler``.

    Examples:
        >>> after = CosineAnnealingScheduler("lr", 0.3, 0.0, cycle_size=6)
        >>> cb = create_lr_scheduler_with_warmup(after, warmup_start_value=0.0, warmup_duration=4, warmup_end_value=0.1)
        >>> cb.simulate(6).round(4).tolist()
        [0.0, 0.0333, 0.0667, 0.1, 0.3, 0.2799]
    """
    return _WarmupScheduler(lr_scheduler, warmup_start_value, warmup_duration, warmup_end_value, save_history, **kwargs)
