"""A cooldown branched off any schedule: its value at ``start``, multiplied down to ``to`` times it.

:class:`Cooldown` follows ``schedule`` until event ``start``; from there it holds the value
``v = schedule(start)`` multiplied by a factor that goes from 1 at ``start`` to ``to`` at
``start + length`` along ``shape``, and ``to * v`` after. This is the decay phase of a
warmup-stable-decay run taken from any point of a stable run: each cooldown is a pure function of
the event index, so cooldowns branched from one checkpoint are previewed, compared and resumed
exactly. The callback that applies it to a running fit is :class:`lightning_schedulers.Cooldown`.

Nothing here imports torch or Lightning.

Examples:
    >>> from lightning_schedulers.schedules import Constant
    >>> s = Cooldown(Constant(1.0), start=4, length=4, shape="linear", to=0.0)
    >>> [s.value(t) for t in (0, 3, 4, 5, 8, 9)]
    [1.0, 1.0, 1.0, 0.75, 0.0, 0.0]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np

from lightning_schedulers._validation import check_choice, check_float
from lightning_schedulers.schedules.base import FloatArray, Schedule, check_schedule, segments, set_field
from lightning_schedulers.schedules.durations import (
    Duration,
    TrainingFraction,
    check_duration,
    contains_fraction,
    resolve_durations,
)

__all__ = ["SHAPES", "CooldownShape", "Cooldown", "cooldown_factor"]

CooldownShape = Literal["linear", "cosine", "1-sqrt", "square"]
"""``shape=``: how the factor falls from 1 to 0 over the cooldown."""

SHAPES: tuple[str, ...] = ("linear", "cosine", "1-sqrt", "square")


def cooldown_factor(shape: str, to: float, k: FloatArray, length: int) -> FloatArray:
    """``to + (1 - to) * f(x)`` for ``x = k / length`` clipped to ``[0, 1]``, ``f`` the ``shape``.

    ``f`` falls from 1 at ``x = 0`` to 0 at ``x = 1``: ``1 - x`` (``"linear"``),
    ``(1 + cos(pi x)) / 2`` (``"cosine"``), ``1 - sqrt(x)`` (``"1-sqrt"``), ``1 - x**2``
    (``"square"``). Each is computed from ``r = (length - k) / length`` (``= 1 - x``, one rounding)
    in a form without cancellation near ``x = 1``, where a cooldown to zero is small:
    ``sin(pi r / 2)**2``, ``r / (1 + sqrt(x))`` and ``r * (1 + x)``. At ``x = 0`` the factor is
    exactly 1 (``to + (1 - to)`` rounds to 1 for every ``to`` in ``[0, 1]``), from ``x = 1`` on
    exactly ``to``.

    Examples:
        >>> import numpy as np
        >>> cooldown_factor("square", 0.0, np.array([0.0, 2.0, 4.0, 9.0]), 4).tolist()
        [1.0, 0.75, 0.0, 0.0]
    """
    steps = float(length)
    k = np.clip(k, 0.0, steps)
    r = (steps - k) / steps
    if shape == "linear":
        f = r
    elif shape == "cosine":
        f = np.sin((0.5 * math.pi) * r) ** 2
    elif shape == "1-sqrt":
        f = r / (1.0 + np.sqrt(k / steps))
    else:  # "square"
        f = r * (1.0 + k / steps)
    result: FloatArray = to + (1.0 - to) * f
    return result


@dataclass(frozen=True)
class Cooldown(Schedule):
    """``schedule`` until ``start``; from there ``schedule(start)`` multiplied down to ``to`` times it.

    With ``v = schedule(start)`` and ``x = (t - start) / length``, the value at ``t >= start`` is
    ``v * (to + (1 - to) * f(x))``, where ``f`` falls from 1 at ``x = 0`` to 0 at ``x = 1`` along
    ``shape`` (see :func:`cooldown_factor`): the value goes from ``v`` at ``start`` to ``to * v``
    at ``start + length`` and stays there. Before ``start`` it is ``schedule``'s value, unchanged.

    Args:
        schedule: the schedule the cooldown branches off.
        start: the event the cooldown starts at (it trains with ``v``): an int, or a fraction of
            training (resolved with :meth:`resolve`, as every duration).
        length: the cooldown's events: an int ``>= 1``, a fraction of training, or ``None``: to
            the end of the fit (``total - start`` events once resolved against ``total``).
        shape: ``"linear"``, ``"cosine"``, ``"1-sqrt"`` or ``"square"``.
        to: the fraction of ``v`` the cooldown ends at, in ``[0, 1]``.

    Examples:
        >>> from lightning_schedulers.schedules import Linear, fraction
        >>> s = Cooldown(Linear(0.0, 1.0, 2), start=fraction(0.5), shape="cosine", to=0.1)
        >>> [round(v, 12) for v in s.resolve(6).values(range(8)).tolist()]
        [0.0, 0.5, 1.0, 1.0, 0.775, 0.325, 0.1, 0.1]
    """

    schedule: Schedule
    start: Duration
    length: Duration | None = None
    shape: CooldownShape = "linear"
    to: float = 0.0

    _growth = ("schedule",)

    def __post_init__(self) -> None:
        check_schedule("schedule", self.schedule)
        set_field(self, "start", check_duration("start", self.start, minimum=0))
        if self.length is not None:
            set_field(self, "length", check_duration("length", self.length, minimum=1))
        set_field(self, "shape", check_choice("shape", self.shape, SHAPES))
        to = check_float("to", self.to)
        if not 0.0 <= to <= 1.0:
            raise ValueError(
                f"`to` must be in [0, 1] (the fraction of the value at `start` to end at), got {self.to!r}"
            )
        set_field(self, "to", to)

    @property
    def is_resolved(self) -> bool:
        return self.length is not None and not any(
            contains_fraction(v) for v in (self.schedule, self.start, self.length)
        )

    def resolve(self, total: int) -> Schedule:
        """Fractions of training resolved against a fit of ``total`` events; ``length=None`` to its end."""
        if self.is_resolved:
            return self
        start = resolve_durations(self.start, total)
        length = max(1, total - start) if self.length is None else resolve_durations(self.length, total)
        return replace(self, schedule=resolve_durations(self.schedule, total), start=start, length=length)

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        if not self.is_resolved:
            raise ValueError(
                f"{self!r} has a length that depends on the fit (a fraction of training, or length=None: to its "
                "end); resolve(total) it first"
            )
        start = float(cast(int, self.start))  # an int once resolved
        before, after = segments(ts, (start,))
        if isinstance(before, slice):
            if before.start < before.stop:
                self.schedule._values_into(ts[before], out[before])
        elif before.any():
            out[before] = self.schedule._values(ts[before])
        later = ts[after]
        if not later.size:
            return
        # The schedule's value at start, evaluated as value(start) evaluates it (one event).
        level = float(self.schedule._values(np.array((start,), dtype=np.float64))[0])
        factor = cooldown_factor(self.shape, self.to, later - start, cast(int, self.length))
        out[after] = level * factor


def check_start(value: Any) -> int | TrainingFraction | Literal["resume"]:
    """``start=``: an int event, a fraction of training, or ``"resume"``."""
    if isinstance(value, str):
        if value == "resume":
            return "resume"
        raise ValueError(
            f"`start` must be an int step, a fraction of training in (0, 1] or 'resume' (the step the fit resumes "
            f"at), got {value!r}"
        )
    if not isinstance(value, TrainingFraction) and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise TypeError(
            f"`start` must be an int step, a fraction of training in (0, 1] or 'resume', got {value!r} "
            f"({type(value).__name__})"
        )
    return check_duration("start", value, minimum=0)
