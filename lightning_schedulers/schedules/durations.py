"""Durations given as a fraction of the whole fit, resolved once when the fit starts.

Every duration argument of the package (a warmup length, ``T_max``, ``cycle_size``,
``total_steps``, milestones, phase lengths) takes an int number of events, or a fraction of the
fit: ``fraction(0.05)`` or simply ``0.05`` (a float in ``(0, 1]``). At the start of the fit the
callback resolves it against ``trainer.estimated_stepping_batches`` (``interval="step"``) or
``trainer.max_epochs`` (``"epoch"``) to ``max(1, round(fraction * total))`` events, keeps the total
in the checkpoint, and raises a clear error when the fit's length is unknown. ``simulate(n)``
resolves against ``n``.

Nothing here imports torch or Lightning.

Examples:
    >>> from lightning_schedulers.durations import fraction
    >>> fraction(0.05).resolve(1000)
    50
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = [
    "Duration",
    "TrainingFraction",
    "check_duration",
    "check_duration_sequence",
    "contains_fraction",
    "fraction",
    "resolve_durations",
]


@dataclass(frozen=True)
class TrainingFraction:
    """A duration as a fraction of the fit, in ``(0, 1]``; it has no value until :meth:`resolve`.

    Examples:
        >>> TrainingFraction(0.25).resolve(10)
        2
    """

    fraction: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "fraction", _check_fraction("fraction", self.fraction))

    def resolve(self, total: int) -> int:
        """The number of events this fraction is of ``total`` events (at least 1)."""
        return max(1, round(self.fraction * total))

    def _unresolved(self, *args: Any) -> NoReturn:
        raise ValueError(
            f"{self!r} is a fraction of training and has no value until the fit (or simulate(n)) resolves "
            "it; call .resolve(total) on the schedule to evaluate it by hand"
        )

    # Arithmetic and comparisons on an unresolved duration are mistakes: say so clearly.
    __lt__ = __le__ = __gt__ = __ge__ = _unresolved
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unresolved
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _unresolved
    __int__ = __float__ = __index__ = _unresolved


Duration = int | float | TrainingFraction
"""A number of events, or a fraction of the fit."""


def fraction(value: float) -> TrainingFraction:
    """A duration of ``value`` (in ``(0, 1]``) of the whole fit.

    Examples:
        >>> fraction(0.1)
        TrainingFraction(fraction=0.1)
    """
    return TrainingFraction(_check_fraction("value", value))


def _check_fraction(name: str, given: Any) -> float:
    if isinstance(given, bool) or not isinstance(given, numbers.Real):
        raise TypeError(f"`{name}` must be a real number in (0, 1], got {given!r}")
    try:
        value = float(given)
    except OverflowError:  # an int like 10**400: out of range
        value = math.inf
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"`{name}` must be in (0, 1], got {given!r}")
    return value


def check_duration(name: str, value: Any, *, minimum: int = 0) -> int | TrainingFraction:
    """An int number of events ``>= minimum``, or a fraction of training (a float in (0, 1])."""
    if isinstance(value, TrainingFraction):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        v = float(value)
        if math.isfinite(v) and 0.0 < v <= 1.0:
            return TrainingFraction(v)
        raise ValueError(f"`{name}` must be an int number of events or a fraction of training in (0, 1], got {value!r}")
    from lightning_schedulers._validation import check_int

    return check_int(name, value, minimum=minimum)


def contains_fraction(value: Any) -> bool:
    """Whether ``value`` (or anything inside it) is an unresolved :class:`TrainingFraction`."""
    if isinstance(value, TrainingFraction):
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_fraction(v) for v in value)
    unresolved = getattr(value, "is_resolved", None)
    return unresolved is not None and not unresolved


def resolve_durations(value: Any, total: int) -> Any:
    """``value`` with every fraction of training turned into events of ``total`` (recursively)."""
    if isinstance(value, TrainingFraction):
        return value.resolve(total)
    if isinstance(value, tuple):
        return tuple(resolve_durations(v, total) for v in value)
    if isinstance(value, list):
        return [resolve_durations(v, total) for v in value]
    resolve = getattr(value, "resolve", None)
    if resolve is not None and getattr(value, "is_resolved", True) is False:
        return resolve(total)
    return value


def check_duration_sequence(
    name: str, value: Any, *, strictly_increasing: bool, minimum: int = 0
) -> tuple[int | TrainingFraction, ...]:
    """A non-empty tuple of durations; increasing (strictly if asked) wherever it can be checked now.

    The order of fractions is checked when they are resolved, at the start of the fit.
    """
    from lightning_schedulers._validation import check_int_sequence, check_sequence

    items = check_sequence(name, value)
    result = tuple(check_duration(f"{name}[{i}]", item, minimum=minimum) for i, item in enumerate(items))
    if not any(isinstance(v, TrainingFraction) for v in result):
        return check_int_sequence(name, result, strictly_increasing=strictly_increasing, minimum=minimum)
    return result
