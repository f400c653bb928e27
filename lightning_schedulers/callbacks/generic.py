"""The generic callback: any schedule on any target."""

from __future__ import annotations

from collections.abc import Mapping

from lightning_schedulers.callbacks.base import SchedulerCallback, ScheduleSpec, TargetSpec
from lightning_schedulers.callbacks.binding import Binding, make_binding
from lightning_schedulers.callbacks.options import ClockName, Interval, ResumePolicy

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
        on_resume: ResumePolicy = "continue",
        clock: ClockName = "optimizer",
    ) -> None:
        super().__init__(
            interval=interval,
            name=name,
            save_history=save_history,
            logging_enabled=logging_enabled,
            on_resume=on_resume,
            clock=clock,
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

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{b.target!r}: {list(b.schedules) if b.per_slot else b.schedules[0]!r}" for b in self._static_bindings
        )
        return f"ScheduleCallback({{{parts}}}, interval={self.interval!r}, name={self.name!r})"
