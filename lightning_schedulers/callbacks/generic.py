"""The generic callback: any schedule on any target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning_schedulers.callbacks.base import SchedulerCallback, ScheduleSpec, TargetSpec
from lightning_schedulers.callbacks.binding import Binding, make_binding
from lightning_schedulers.callbacks.options import ClockName, Count, Interval, ResumePolicy
from lightning_schedulers.schedules.replan import settles_at

__all__ = ["ScheduleCallback"]


class ScheduleCallback(SchedulerCallback):
    """Apply any schedule(s) to any target(s): the generic scheduling callback.

    Args:
        schedule: a :class:`~lightning_schedulers.schedules.Schedule`; a list of schedules, one per
            param group; or a mapping from targets to either. A ``str`` target is a param-group
            key (``"lr"``, ``"weight_decay"``, ...); use :class:`~lightning_schedulers.Attribute`
            for a module attribute.
        target: the target of a single (non-mapping) ``schedule``; defaults to ``"lr"``.
        interval: ``"step"`` or ``"epoch"``.
        name: logging name (single target only).
        save_history: keep the applied values in :attr:`history`.
        logging_enabled: log the applied values through ``trainer.loggers``.

    Examples:
        >>> from lightning_schedulers import Attribute, ScheduleCallback
        >>> from lightning_schedulers.schedules import Cosine, Linear, sequence
        >>> lr = sequence([Linear(0.0, 1e-3, 100), Cosine(1e-3, 1e-5, 900)], durations=[100])
        >>> cb = ScheduleCallback({"lr": lr, Attribute("kl_weight"): Linear(0.0, 1.0, 500)})
        >>> cb.simulate(3).shape
        (3, 2)

    """

    def __init__(
        self,
        schedule: ScheduleSpec | Mapping[TargetSpec, ScheduleSpec],
        target: TargetSpec | None = None,
        *,
        interval: Interval = "step",
        name: str | None = None,
        save_history: bool = False,
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
        if isinstance(schedule, Mapping):
            if not schedule:
                raise ValueError(f"`schedule` is an empty mapping ({schedule!r}); give at least one target")
            if target is not None:
                raise ValueError(
                    f"`target`={target!r} cannot be combined with `schedule`={schedule!r}, a mapping of targets to "
                    "schedules"
                )
            bindings = tuple(make_binding(t, s, "schedule") for t, s in schedule.items())
        else:
            bindings = (make_binding("lr" if target is None else target, schedule),)
        described = [b.target.describe() for b in bindings]
        if len(set(described)) != len(described):
            raise ValueError(f"a target appears twice in `schedule`: {described}")
        self._static_bindings = bindings

    def _bindings(self) -> tuple[Binding, ...]:
        return self._static_bindings

    def _resolve(self, host: Any, restored: dict[str, Any] | None) -> None:
        # A schedule that decays to its end before the fit ends holds its last value from there:
        # the engine warns once, at that event (a warmup to a constant is not warned about).
        ends: list[float] = []
        for binding in self._static_bindings:
            for schedule in self._resolved(binding.schedules):
                end = settles_at(schedule)
                if end is None or end < 1 or not schedule.value(int(end)) < schedule.value(int(end) - 1):
                    self._horizon = None
                    return
                ends.append(end)
        self._horizon = int(max(ends)) if ends else None

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{b.target!r}: {list(b.schedules) if b.per_slot else b.schedules[0]!r}" for b in self._static_bindings
        )
        return f"ScheduleCallback({{{parts}}}, interval={self.interval!r}, name={self.name!r})"
