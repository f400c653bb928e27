"""Pure, closed-form schedules: what value a hyperparameter takes at event ``t``.

Nothing here imports torch or Lightning. A schedule is a frozen dataclass with two methods that
compute the same numbers:

* ``value(t)`` for one integer event index (a step or an epoch), in plain ``math``;
* ``values(ts)`` for many at once, vectorised with numpy.

Both run the same float64 operations in the same order, so they agree bit for bit on a platform
whose numpy and ``math`` share one libm (they do on x86-64 Linux wheels). Every formula is closed
form: evaluating ``t = 10**9`` costs what ``t = 0`` costs, and no schedule keeps a counter.

Times before 0 are treated as 0. Compositions (``Join``, ``Product``, ``Scale``, ``Clamp``) are
schedules too, and ``Phase`` bundles several named schedules that share one duration.

Example:
    >>> from lightning_schedulers.schedules import Cosine, Linear, join
    >>> warmup_cosine = join([Linear(0.0, 1.0, 10), Cosine(1.0, 0.1, 90)], boundaries=[10])
    >>> warmup_cosine.value(0), warmup_cosine.value(10), warmup_cosine.value(100)
    (0.0, 1.0, 0.1)

"""

from __future__ import annotations

import bisect
import functools
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lightning_schedulers._validation import (
    check_bool,
    check_float,
    check_int,
    check_sequence,
)
from lightning_schedulers.durations import (
    Duration,
    TrainingFraction,
    check_duration,
    check_duration_sequence,
    contains_fraction,
    resolve_durations,
)

__all__ = [
    "Clamp",
    "Constant",
    "Cosine",
    "CosineCycles",
    "CosineRestarts",
    "CumulativeProduct",
    "Cyclic",
    "CyclicalAnneal",
    "Deferred",
    "Exponential",
    "InverseSqrt",
    "Join",
    "Lambda",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Phase",
    "PiecewiseLinear",
    "Polynomial",
    "PowerRamp",
    "Product",
    "Scale",
    "Schedule",
    "Shift",
    "Space",
    "Step",
    "cosinespace",
    "deferrable",
    "join",
    "join_phases",
    "linspace",
    "sequence",
]

FloatArray = NDArray[np.float64]


def _times(ts: ArrayLike) -> FloatArray:
    """Event indices as a float64 array (exact for every index below 2**53)."""
    arr = np.asarray(ts)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise TypeError(f"`ts` must hold integer event indices, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _set(obj: object, name: str, value: Any) -> None:
    # Frozen dataclasses normalise their fields in __post_init__ through object.__setattr__.
    object.__setattr__(obj, name, value)


class Schedule:
    """Base class of every schedule: a pure map from an event index to a float.

    Subclasses implement ``value`` (scalar, ``math``) and ``_values`` (numpy, float64 times)
    with the same operations in the same order.

    Example:
        >>> from lightning_schedulers.schedules import Constant, Linear
        >>> s = 2.0 * Linear(0.0, 1.0, 4)
        >>> [s.value(t) for t in range(5)]
        [0.0, 0.5, 1.0, 1.5, 2.0]

    """

    __slots__ = ()

    def value(self, t: int) -> float:
        """Return the value at event index ``t``."""
        raise NotImplementedError

    def values(self, ts: ArrayLike) -> FloatArray:
        """Return the values at every event index of ``ts`` as a float64 array."""
        return self._values(_times(ts))

    def _values(self, ts: FloatArray) -> FloatArray:
        raise NotImplementedError

    def __call__(self, t: int) -> float:
        return self.value(t)

    def __mul__(self, other: object) -> Schedule:
        if isinstance(other, Schedule):
            return Product((self, other))
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return Scale(self, other)
        return NotImplemented

    __rmul__ = __mul__

    def clamp(self, lower: float | None = None, upper: float | None = None) -> Clamp:
        """Return this schedule with its values clipped to ``[lower, upper]``."""
        return Clamp(self, lower, upper)

    @property
    def vectorised(self) -> bool:
        """Whether ``values`` evaluates many events at once cheaply (no user function, no running product).

        Callbacks evaluate such schedules a block of events ahead; the others one event at a time.
        """
        for f in fields(self):  # type: ignore[arg-type]
            if not f.init:
                continue
            value = getattr(self, f.name)
            children = value if isinstance(value, tuple) else (value,)
            if any(isinstance(c, Schedule) and not c.vectorised for c in children):
                return False
        return True

    @property
    def is_resolved(self) -> bool:
        """Whether every duration is a number of events (no fraction of training left to resolve)."""
        return not any(contains_fraction(getattr(self, f.name)) for f in fields(self) if f.init)  # type: ignore[arg-type]

    def resolve(self, total: int) -> Schedule:
        """This schedule with every fraction of training resolved against a fit of ``total`` events.

        Example:
            >>> from lightning_schedulers.durations import fraction
            >>> Linear(0.0, 1.0, fraction(0.5)).resolve(10)
            Linear(start=0.0, end=1.0, steps=5)
        """
        if self.is_resolved:
            return self
        changes = {f.name: resolve_durations(getattr(self, f.name), total) for f in fields(self) if f.init}  # type: ignore[arg-type]
        return replace(self, **changes)  # type: ignore[type-var]


def _check_schedule(name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"`{name}` must be a Schedule, got {value!r} ({type(value).__name__})")
    return value


@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every event.

    Example:
        >>> Constant(0.3).value(10**9)
        0.3

    """

    level: float

    def __post_init__(self) -> None:
        _set(self, "level", check_float("level", self.level))

    def value(self, t: int) -> float:
        return self.level

    def _values(self, ts: FloatArray) -> FloatArray:
        return np.full(ts.shape, self.level)


@dataclass(frozen=True)
class Linear(Schedule):
    """Linear ramp from ``start`` at ``t = 0`` to ``end`` at ``t = steps``, then ``end``.

    ``steps = 0`` gives ``end`` from the first event (a warmup of length zero).

    Example:
        >>> [Linear(0.0, 1.0, 4).value(t) for t in (0, 2, 4, 9)]
        [0.0, 0.5, 1.0, 1.0]

    """

    start: float
    end: float
    steps: Duration

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_duration("steps", self.steps, minimum=0))

    def value(self, t: int) -> float:
        if t >= self.steps or self.steps == 0:
            return self.end
        return self.start + (self.end - self.start) * (max(float(t), 0.0) / self.steps)

    def _values(self, ts: FloatArray) -> FloatArray:
        if self.steps == 0:
            return np.full(ts.shape, self.end)
        ramp = self.start + (self.end - self.start) * (np.maximum(ts, 0.0) / self.steps)
        return np.where(ts >= self.steps, self.end, ramp)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Half-cosine from ``start`` at ``t = 0`` to the floor ``end`` at ``t = steps``, then ``end``.

    Mathematically ``end + (start - end) * (1 + cos(pi t / steps)) / 2``. It is computed as
    ``start - (start - end) * sin(pi t / 2 steps)**2`` on the first half and
    ``end + (start - end) * sin(pi (steps - t) / 2 steps)**2`` on the second, so both endpoints are
    exact and the value keeps full relative precision near the floor, where the textbook form
    cancels. With ``periodic=True`` the curve is not held after ``steps`` but continues as a cosine
    wave of period ``2 * steps`` (torch's ``CosineAnnealingLR`` past ``T_max``); the phase is
    reduced exactly, so precision does not decay with ``t``.

    Example:
        >>> [round(Cosine(1.0, 0.0, 4).value(t), 12) for t in (0, 2, 4, 6)]
        [1.0, 0.5, 0.0, 0.0]

    """

    start: float
    end: float
    steps: Duration
    periodic: bool = False

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_duration("steps", self.steps, minimum=1))
        check_bool("periodic", self.periodic)

    def value(self, t: int) -> float:
        steps = self.steps
        u = max(float(t), 0.0)
        if self.periodic:
            u = u % (2 * steps)
            if u > steps:
                u = 2 * steps - u
        elif u >= steps:
            return self.end
        if 2.0 * u <= steps:
            s = math.sin(math.pi * u / (2.0 * steps))
            return self.start - (self.start - self.end) * (s * s)
        s = math.sin(math.pi * (steps - u) / (2.0 * steps))
        return self.end + (self.start - self.end) * (s * s)

    def _values(self, ts: FloatArray) -> FloatArray:
        steps = self.steps
        u = np.maximum(ts, 0.0)
        if self.periodic:
            u = u % (2 * steps)
            u = np.where(u > steps, 2 * steps - u, u)
        else:
            u = np.minimum(u, int(steps))
        s_head = np.sin(math.pi * u / (2.0 * steps))
        s_tail = np.sin(math.pi * (steps - u) / (2.0 * steps))
        head = self.start - (self.start - self.end) * (s_head * s_head)
        tail = self.end + (self.start - self.end) * (s_tail * s_tail)
        return np.where(2.0 * u <= steps, head, tail)


@dataclass(frozen=True)
class Exponential(Schedule):
    """``start * rate ** (max(t - begin, 0) / steps)``, optionally staircase and bounded by ``end``.

    Args:
        start: value at ``t <= begin``.
        rate: factor per ``steps`` events, ``> 0``. A growth rate (``> 1``) needs ``end`` as its
            upper bound, because unbounded growth overflows to ``inf``.
        steps: events per factor of ``rate`` (optax's ``transition_steps``), ``>= 1``.
        staircase: floor the exponent, so the value changes every ``steps`` events.
        begin: events before the decay starts (optax's ``transition_begin``), ``>= 0``.
        end: bound the value never passes: a floor when decaying, a ceiling when growing.

    Example:
        >>> Exponential(1.0, 0.5, steps=10).value(20)
        0.25

    """

    start: float
    rate: float
    steps: Duration = 1
    staircase: bool = False
    begin: Duration = 0
    end: float | None = None
    # Growth only: the exponent from which the value sits at its ceiling `end`, and the largest
    # exponent ever fed to rate**p, so that a bounded growth curve never overflows.
    _p_ceiling: float = field(init=False, repr=False, compare=False)
    _p_max: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "rate", check_float("rate", self.rate, positive=True))
        _set(self, "steps", check_duration("steps", self.steps, minimum=1))
        check_bool("staircase", self.staircase)
        _set(self, "begin", check_duration("begin", self.begin, minimum=0))
        if self.end is not None:
            _set(self, "end", check_float("end", self.end))
        p_ceiling = p_max = math.inf
        if self.rate > 1.0:
            if self.end is None:
                raise ValueError(
                    f"`rate` > 1 grows without bound and overflows; give `end` as the ceiling "
                    f"(rate={self.rate!r}, end=None)"
                )
            if self.start < 0.0:
                raise ValueError(f"`rate` > 1 from a negative `start` diverges to -inf, got start={self.start!r}")
            if self.start > 0.0:
                p_ceiling = max(math.log(self.end / self.start) / math.log(self.rate), 0.0) if self.end > 0 else 0.0
            p_max = min(p_ceiling, 700.0 / math.log(self.rate))  # rate**p_max < 1e305
        _set(self, "_p_ceiling", p_ceiling)
        _set(self, "_p_max", p_max)

    def value(self, t: int) -> float:
        p = max(float(t) - self.begin, 0.0)
        p = p // self.steps if self.staircase else p / self.steps
        if self.end is None:
            v: float = self.start * self.rate**p
            return v
        if p >= self._p_ceiling:
            return self.end
        v = self.start * self.rate ** min(p, self._p_max)
        return max(v, self.end) if self.rate < 1.0 else min(v, self.end)

    def _values(self, ts: FloatArray) -> FloatArray:
        p = np.maximum(ts - self.begin, 0.0)
        p = p // self.steps if self.staircase else p / self.steps
        if self.end is None:
            return self.start * np.power(self.rate, p)
        v = self.start * np.power(self.rate, np.minimum(p, self._p_max))
        v = np.maximum(v, self.end) if self.rate < 1.0 else np.minimum(v, self.end)
        return np.where(p >= self._p_ceiling, self.end, v)


@dataclass(frozen=True)
class Step(Schedule):
    """``start * gamma ** (t // step_size)``: multiply by ``gamma`` every ``step_size`` events.

    ``gamma`` is in ``(0, 1]``; for growth use :class:`Exponential` with ``staircase=True`` and
    an ``end`` ceiling.

    Example:
        >>> [Step(1.0, 0.5, 2).value(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]

    """

    start: float
    gamma: float
    step_size: Duration

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "gamma", _check_decay_factor("gamma", self.gamma))
        _set(self, "step_size", check_duration("step_size", self.step_size, minimum=1))

    def value(self, t: int) -> float:
        v: float = self.start * self.gamma ** (max(float(t), 0.0) // self.step_size)
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        v: FloatArray = self.start * np.power(self.gamma, np.maximum(ts, 0.0) // self.step_size)
        return v


def _check_decay_factor(name: str, value: Any) -> float:
    result = check_float(name, value, positive=True)
    if result > 1.0:
        raise ValueError(f"`{name}` must be in (0, 1], got {value!r}")
    return result


@dataclass(frozen=True)
class MultiStep(Schedule):
    """``start * gamma ** k`` where ``k`` counts the milestones ``<= t``.

    A milestone listed twice multiplies by ``gamma`` twice, as in torch's ``MultiStepLR``. A growth
    factor (``gamma > 1``) is allowed: the exponent is bounded by the number of milestones, and a
    final value that would overflow is rejected here.

    Example:
        >>> [MultiStep(1.0, 0.1, (2, 4)).value(t) for t in (0, 2, 4)]
        [1.0, 0.1, 0.010000000000000002]
    """

    start: float
    gamma: float
    milestones: tuple[Duration, ...]

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "gamma", check_float("gamma", self.gamma, positive=True))
        _set(self, "milestones", check_duration_sequence("milestones", self.milestones, strictly_increasing=False))
        if self.gamma > 1.0:
            try:
                last = self.start * self.gamma ** float(len(self.milestones))
            except OverflowError:
                last = math.inf
            if not math.isfinite(last):
                raise ValueError(
                    f"`gamma`={self.gamma!r} over {len(self.milestones)} milestones overflows from start={self.start!r}"
                )

    def value(self, t: int) -> float:
        v: float = self.start * self.gamma ** float(bisect.bisect_right(self.milestones, t))
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        k = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), ts, side="right")
        return self.start * np.power(self.gamma, k.astype(np.float64))


@dataclass(frozen=True)
class Polynomial(Schedule):
    """``(start - end) * (1 - t / steps) ** power + end`` until ``steps``, then ``end``.

    Example:
        >>> [Polynomial(1.0, 0.0, 4, power=2.0).value(t) for t in (0, 2, 4, 8)]
        [1.0, 0.25, 0.0, 0.0]

    """

    start: float
    end: float
    steps: Duration
    power: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_duration("steps", self.steps, minimum=1))
        _set(self, "power", check_float("power", self.power, positive=True))

    def value(self, t: int) -> float:
        if t >= self.steps:
            return self.end
        frac = 1.0 - max(float(t), 0.0) / self.steps
        v: float = (self.start - self.end) * frac**self.power + self.end
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        frac = 1.0 - np.minimum(np.maximum(ts, 0.0), int(self.steps)) / int(self.steps)
        curve = (self.start - self.end) * np.power(frac, self.power) + self.end
        return np.where(ts >= self.steps, self.end, curve)


@dataclass(frozen=True)
class PiecewiseLinear(Schedule):
    """Linear interpolation between ``(event, value)`` points; the end values hold outside.

    Events may repeat: a repeated event is a jump, and the last value given for it applies from
    it on (ignite's ``PiecewiseLinear`` convention, whose arithmetic this follows exactly).

    Example:
        >>> s = PiecewiseLinear([(0, 0.0), (10, 1.0), (20, 0.5)])
        >>> [s.value(t) for t in (0, 5, 10, 15, 99)]
        [0.0, 0.5, 1.0, 0.75, 0.5]

    """

    points: tuple[tuple[Duration, float], ...]
    _events: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _events_array: FloatArray = field(init=False, repr=False, compare=False)
    _values_array: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pairs = check_sequence("points", self.points)
        clean: list[tuple[int | TrainingFraction, float]] = []
        for i, pair in enumerate(pairs):
            item = check_sequence(f"points[{i}]", pair)
            if len(item) != 2:
                raise ValueError(f"`points[{i}]` must be an (event, value) pair, got {pair!r}")
            clean.append(
                (
                    check_duration(f"points[{i}][0]", item[0], minimum=0),
                    check_float(f"points[{i}][1]", item[1]),
                )
            )
        events = check_duration_sequence("points events", [p[0] for p in clean], strictly_increasing=False)
        _set(self, "points", tuple(clean))
        if not self.is_resolved:
            return  # the lookup tables wait for the fit's length
        # Lookup tables cached once; kept out of eq, hash and repr.
        _set(self, "_events", events)
        _set(self, "_events_array", np.asarray(events, dtype=np.float64))
        _set(self, "_values_array", np.asarray([p[1] for p in clean], dtype=np.float64))

    def value(self, t: int) -> float:
        i = bisect.bisect_right(self._events, t)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (t0, v0), (t1, v1) = self.points[i - 1], self.points[i]
        return v0 + (v1 - v0) * (float(t) - t0) / (t1 - t0)

    def _values(self, ts: FloatArray) -> FloatArray:
        events: FloatArray = self._events_array
        vals: FloatArray = self._values_array
        n = len(self.points)
        i = np.searchsorted(events, ts, side="right")
        lo = np.clip(i - 1, 0, n - 1)
        hi = np.clip(i, 0, n - 1)
        span = np.where(hi > lo, events[hi] - events[lo], 1.0)
        inner = vals[lo] + (vals[hi] - vals[lo]) * (ts - events[lo]) / span
        return np.where(i == 0, vals[0], np.where(i == n, vals[-1], inner))


@dataclass(frozen=True)
class Join(Schedule):
    """Run ``schedules[i]`` from ``boundaries[i - 1]`` on, in local time (as optax's joins).

    Schedule ``i`` sees ``t - boundaries[i - 1]``, so each piece starts at its own ``t = 0``.

    Example:
        >>> s = Join((Linear(0.0, 1.0, 2), Constant(5.0)), boundaries=(2,))
        >>> [s.value(t) for t in range(4)]
        [0.0, 0.5, 5.0, 5.0]

    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[Duration, ...]

    def __post_init__(self) -> None:
        scheds = check_sequence("schedules", self.schedules)
        for i, s in enumerate(scheds):
            _check_schedule(f"schedules[{i}]", s)
        bounds = check_sequence("boundaries", self.boundaries, allow_empty=True)
        if len(bounds) != len(scheds) - 1:
            raise ValueError(
                f"`boundaries` must have len(schedules) - 1 = {len(scheds) - 1} entries, "
                f"got {len(bounds)}: {self.boundaries!r}"
            )
        if bounds:
            bounds = check_duration_sequence("boundaries", bounds, strictly_increasing=True, minimum=1)
        _set(self, "schedules", scheds)
        _set(self, "boundaries", tuple(bounds))

    def value(self, t: int) -> float:
        i = bisect.bisect_right(self.boundaries, t)
        offset = self.boundaries[i - 1] if i else 0
        return self.schedules[i].value(t - offset)

    def _values(self, ts: FloatArray) -> FloatArray:
        out = np.empty(ts.shape, dtype=np.float64)
        index = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), ts, side="right")
        for i, schedule in enumerate(self.schedules):
            mask = index == i
            offset = self.boundaries[i - 1] if i else 0
            out[mask] = schedule._values(ts[mask] - offset)
        return out


@dataclass(frozen=True, repr=False)
class Deferred(Schedule):
    """A preset called with a fraction of training: built when the fit's length is known.

    ``resolve(total)`` calls ``fn`` with every fraction resolved; before that it has no value.
    Presets return one by themselves (see :func:`deferrable`); there is no need to build one.
    """

    fn: Callable[..., Schedule]
    arguments: tuple[tuple[str, Any], ...]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments)
        return f"{getattr(self.fn, '__name__', 'preset')}({args})"

    @property
    def is_resolved(self) -> bool:
        return False

    @property
    def vectorised(self) -> bool:
        return False

    def resolve(self, total: int) -> Schedule:
        kwargs = {k: resolve_durations(v, total) for k, v in self.arguments}
        return self.fn(**kwargs).resolve(total)

    def value(self, t: int) -> float:
        raise ValueError(f"{self!r} takes a fraction of training; resolve(total) it first")

    def _values(self, ts: FloatArray) -> FloatArray:
        raise ValueError(f"{self!r} takes a fraction of training; resolve(total) it first")


def deferrable(*durations: str) -> Callable[[Callable[..., Schedule]], Callable[..., Schedule]]:
    """Let a schedule-building function take fractions of training for its ``durations`` parameters.

    Those parameters accept an int number of events, a fraction of training (a float in
    ``(0, 1]`` or :func:`~lightning_schedulers.durations.fraction`), or a list of either. Called
    with a fraction, the function returns a :class:`Deferred` that runs it once the fit's length
    is known; otherwise it runs at once.
    """

    def decorate(fn: Callable[..., Schedule]) -> Callable[..., Schedule]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Schedule:
            bound = signature.bind(*args, **kwargs)
            for name in durations:
                if name in bound.arguments:
                    bound.arguments[name] = _as_durations(name, bound.arguments[name])
            if any(contains_fraction(v) for v in bound.arguments.values()):
                return Deferred(wrapper, tuple((k, _freeze(v)) for k, v in bound.arguments.items()))
            return fn(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def _as_durations(name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(check_duration(f"{name}[{i}]", v) for i, v in enumerate(value))
    return check_duration(name, value)


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def join(schedules: Iterable[Schedule], boundaries: Iterable[int]) -> Join:
    """Join schedules at absolute event ``boundaries``; each piece runs in local time.

    Example:
        >>> join([Constant(1.0), Constant(2.0)], boundaries=[3]).value(3)
        2.0

    """
    return Join(tuple(schedules), tuple(boundaries))


@deferrable("durations")
def sequence(schedules: Iterable[Schedule], durations: Iterable[int]) -> Schedule:
    """Run schedules one after another for the given ``durations``; the last runs on forever.

    ``durations`` has one entry fewer than ``schedules``.

    Example:
        >>> s = sequence([Linear(0.0, 1.0, 5), Cosine(1.0, 0.0, 5)], durations=[5])
        >>> s.value(5), s.value(10)
        (1.0, 0.0)

    """
    durs = check_sequence("durations", durations, allow_empty=True)
    bounds: list[int] = []
    total = 0
    for i, d in enumerate(durs):
        total += check_int(f"durations[{i}]", d, minimum=1)
        bounds.append(total)
    return Join(tuple(schedules), tuple(bounds))


@dataclass(frozen=True)
class Product(Schedule):
    """Pointwise product of schedules (chaining multiplicative factors).

    Example:
        >>> Product((Constant(2.0), Step(1.0, 0.5, 1))).value(2)
        0.5

    """

    factors: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        factors = check_sequence("factors", self.factors)
        for i, s in enumerate(factors):
            _check_schedule(f"factors[{i}]", s)
        _set(self, "factors", factors)

    def value(self, t: int) -> float:
        result = 1.0
        for factor in self.factors:
            result *= factor.value(t)
        return result

    def _values(self, ts: FloatArray) -> FloatArray:
        result = np.ones(ts.shape, dtype=np.float64)
        for factor in self.factors:
            result *= factor._values(ts)
        return result


@dataclass(frozen=True)
class Scale(Schedule):
    """A schedule multiplied by a constant ``factor``.

    Example:
        >>> Scale(Linear(0.0, 1.0, 2), 3.0).value(1)
        1.5

    """

    schedule: Schedule
    factor: float

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        _set(self, "factor", check_float("factor", self.factor))

    def value(self, t: int) -> float:
        return self.factor * self.schedule.value(t)

    def _values(self, ts: FloatArray) -> FloatArray:
        return self.factor * self.schedule._values(ts)


@dataclass(frozen=True)
class Clamp(Schedule):
    """A schedule clipped to ``[lower, upper]`` (either bound may be ``None``).

    Example:
        >>> Clamp(Linear(0.0, 1.0, 10), lower=0.2).value(0)
        0.2

    """

    schedule: Schedule
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        if self.lower is None and self.upper is None:
            raise ValueError("`lower` and `upper` are both None; give at least one bound")
        if self.lower is not None:
            _set(self, "lower", check_float("lower", self.lower))
        if self.upper is not None:
            _set(self, "upper", check_float("upper", self.upper))
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"`lower` must be <= `upper`, got lower={self.lower!r}, upper={self.upper!r}")

    def value(self, t: int) -> float:
        v = self.schedule.value(t)
        if self.lower is not None and v < self.lower:
            v = self.lower
        if self.upper is not None and v > self.upper:
            v = self.upper
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        v = self.schedule._values(ts)
        if self.lower is not None:
            v = np.where(v < self.lower, self.lower, v)
        if self.upper is not None:
            v = np.where(v > self.upper, self.upper, v)
        return v


@dataclass(frozen=True)
class Space(Schedule):
    """``steps`` values from ``start`` to ``end``, both included (poutyne's ``linspace``/``cosinespace``).

    Iterating gives the values; as a schedule, event ``t`` gives value ``t`` and the last value holds
    after the end. ``kind`` is ``"linear"`` or ``"cosine"``; the arithmetic is poutyne's. A single
    step gives ``[start]`` (poutyne divides by zero there); zero steps give an empty space, which a
    :class:`Phase` may hold but which has no value.

    Example:
        >>> list(Space("linear", 0.0, 1.0, 5))
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    kind: str
    start: float
    end: float
    steps: Duration

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "cosine"):
            raise ValueError(f"`kind` must be 'linear' or 'cosine', got {self.kind!r}")
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_duration("steps", self.steps, minimum=0))

    def __len__(self) -> int:
        return int(self.steps)  # a fraction of training has no length until resolved (clear error)

    def __iter__(self) -> Iterator[float]:
        return (self.value(i) for i in range(self.steps))

    def value(self, t: int) -> float:
        if self.steps == 0:
            raise ValueError("an empty space (steps=0) has no value")
        i = min(max(int(t), 0), self.steps - 1)
        if self.steps == 1:
            return self.start
        progress = i / (self.steps - 1)
        if self.kind == "linear":
            return self.start + progress * (self.end - self.start)
        return self.end + (self.start - self.end) * (1 + math.cos(progress * math.pi)) / 2

    def _values(self, ts: FloatArray) -> FloatArray:
        if self.steps == 0:
            raise ValueError("an empty space (steps=0) has no value")
        i = np.minimum(np.maximum(ts, 0.0), self.steps - 1)
        if self.steps == 1:
            return np.full(ts.shape, self.start)
        progress = i / (self.steps - 1)
        if self.kind == "linear":
            out: FloatArray = self.start + progress * (self.end - self.start)
        else:
            out = self.end + (self.start - self.end) * (1 + np.cos(progress * math.pi)) / 2
        return out


def linspace(start: float, end: float, steps: int) -> Space:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (poutyne's ``linspace``).

    Example:
        >>> list(linspace(1.0, 0.0, 3)), list(linspace(0.5, 2.0, 1))
        ([1.0, 0.5, 0.0], [0.5])
    """
    return Space("linear", start, end, steps)


def cosinespace(start: float, end: float, steps: int) -> Space:
    """``steps`` values on a half cosine from ``start`` to ``end``, both included (poutyne's ``cosinespace``).

    Example:
        >>> [round(v, 3) for v in cosinespace(1.0, 0.0, 3)]
        [1.0, 0.5, 0.0]
    """
    return Space("cosine", start, end, steps)


@dataclass(frozen=True, init=False)
class Phase:
    """Several named schedules that run together for ``steps`` events (poutyne's ``Phase``).

    The names are the keys the schedules drive (``"lr"``, ``"momentum"``, any param-group key).
    Inside a phase each schedule sees local time ``0 .. steps - 1``. Give the length explicitly,
    ``Phase(10, lr=Linear(...))``, or let the spaces set it, ``Phase(lr=linspace(0.1, 1.0, 10))``;
    spaces of different lengths are an error (poutyne silently truncates to the shortest). Chain
    phases with :func:`join_phases`.

    Example:
        >>> p = Phase(lr=linspace(0.1, 1.0, 10), momentum=linspace(0.95, 0.85, 10))
        >>> p.steps, p.keys
        (10, ('lr', 'momentum'))
    """

    steps: Duration
    schedules: tuple[tuple[str, Schedule], ...]

    def __init__(self, steps: Duration | None = None, /, **schedules: Schedule) -> None:
        if not schedules:
            raise ValueError("a Phase needs at least one named schedule, got none")
        for key, schedule in schedules.items():
            _check_schedule(key, schedule)
        lengths = {key: s.steps for key, s in schedules.items() if isinstance(s, Space)}
        if steps is None:
            if len(lengths) != len(schedules):
                missing = [key for key in schedules if key not in lengths]
                raise ValueError(f"give the Phase length: {missing} are not spaces with a length of their own")
            steps = next(iter(lengths.values()))
        _set(self, "steps", check_duration("steps", steps, minimum=0))
        wrong = {key: n for key, n in lengths.items() if n != self.steps}
        if wrong:
            raise ValueError(f"every space of a phase must have its {self.steps} steps, got lengths {lengths}")
        _set(self, "schedules", tuple(schedules.items()))

    @property
    def keys(self) -> tuple[str, ...]:
        """The names this phase drives, in the order given."""
        return tuple(key for key, _ in self.schedules)

    def __getitem__(self, key: str) -> Schedule:
        for name, schedule in self.schedules:
            if name == key:
                return schedule
        raise KeyError(f"phase has no schedule for {key!r}; it has {self.keys}")

    def plot(self, param_name: str = "lr", ax: Any = None) -> Any:
        """Plot the values of ``param_name`` over this phase's steps; return the matplotlib ``Axes``."""
        from lightning_schedulers._plotting import plot_columns

        data = self[param_name].values(np.arange(int(self.steps)))
        return plot_columns(data, [param_name], xlabel="step", ax=ax)


def join_phases(phases: Sequence[Phase]) -> dict[str, Schedule]:
    """Chain phases into one schedule per key; the last phase's values hold after it ends.

    Every phase must drive the same keys, so no value is silently left unscheduled for a phase.
    Phases of zero steps are skipped.

    Example:
        >>> s = join_phases([Phase(5, lr=Linear(0.0, 1.0, 5)), Phase(5, lr=Cosine(1.0, 0.0, 5))])
        >>> s["lr"].value(5)
        1.0
    """
    items = check_sequence("phases", phases)
    for i, phase in enumerate(items):
        if not isinstance(phase, Phase):
            raise TypeError(f"`phases[{i}]` must be a Phase, got {phase!r}")
    keys = items[0].keys
    for i, phase in enumerate(items):
        if set(phase.keys) != set(keys):
            raise ValueError(
                f"every phase must drive the same keys: phases[0] drives {keys}, phases[{i}] drives {phase.keys}"
            )
    kept = [phase for phase in items if isinstance(phase.steps, TrainingFraction) or phase.steps > 0]
    if not kept:
        raise ValueError("every phase has zero steps; there is nothing to schedule")
    durations = [phase.steps for phase in kept[:-1]]
    return {key: sequence([phase[key] for phase in kept], durations) for key in keys}


# --------------------------------------------------------------------------------------------
# Shapes of the reference libraries. Where a reference computes a closed form, these use its
# exact operations so the numbers are bit for bit the reference's.


def _callable_name(fn: Any) -> str:
    """A stable description of a callable for reprs and checkpoint fingerprints (no addresses)."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _check_callable(name: str, value: Any) -> Callable[[int], float]:
    if not callable(value):
        raise TypeError(f"`{name}` must be callable, got {value!r} ({type(value).__name__})")
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True, repr=False)
class Lambda(Schedule):
    """``fn(t)`` for a user function of the event index (torch's ``LambdaLR`` factor).

    ``values`` calls ``fn`` once per event: a Python function cannot be vectorised. To pickle the
    schedule (DDP spawn, LightningCLI), ``fn`` must be picklable: a module-level function or a
    callable object rather than a ``lambda``.

    Example:
        >>> Lambda(lambda t: 0.5**t).value(3)
        0.125

    """

    fn: Callable[[int], float]

    def __post_init__(self) -> None:
        _check_callable("fn", self.fn)

    def __repr__(self) -> str:
        return f"Lambda(fn={_callable_name(self.fn)})"

    @property
    def vectorised(self) -> bool:
        return False  # a user function is called for the events that happen, not ahead of them

    def value(self, t: int) -> float:
        return float(self.fn(t))

    def _values(self, ts: FloatArray) -> FloatArray:
        return np.array([float(self.fn(int(t))) for t in ts.reshape(-1)], dtype=np.float64).reshape(ts.shape)


@dataclass(frozen=True, repr=False)
class CumulativeProduct(Schedule):
    """``start * fn(1) * fn(2) * ... * fn(t)``, multiplied left to right (torch's ``MultiplicativeLR``).

    This is the one schedule without a closed form: a product of arbitrary factors. It keeps a
    single cursor (the last ``t`` and its value), so stepping forward costs one call of ``fn``
    and memory stays constant; a jump to ``t`` (a resume) costs ``t`` calls once.

    Example:
        >>> CumulativeProduct(lambda t: 0.5, start=2.0).value(3)
        0.25

    """

    fn: Callable[[int], float]
    start: float = 1.0
    _cursor: list[float] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_callable("fn", self.fn)
        _set(self, "start", check_float("start", self.start))
        _set(self, "_cursor", [0.0, self.start])  # [t, value at t]

    def __repr__(self) -> str:
        return f"CumulativeProduct(fn={_callable_name(self.fn)}, start={self.start!r})"

    @property
    def vectorised(self) -> bool:
        return False  # values() restarts the product from 0: step it one event at a time

    def __getstate__(self) -> dict[str, Any]:
        return {"fn": self.fn, "start": self.start}

    def __setstate__(self, state: dict[str, Any]) -> None:
        _set(self, "fn", state["fn"])
        _set(self, "start", state["start"])
        _set(self, "_cursor", [0.0, state["start"]])

    def value(self, t: int) -> float:
        target = max(int(t), 0)
        cursor = self._cursor
        k, v = int(cursor[0]), cursor[1]
        if target < k:
            k, v = 0, self.start
        while k < target:
            k += 1
            v = v * float(self.fn(k))
        cursor[0], cursor[1] = float(k), v
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        if ts.size == 0:
            return np.empty(ts.shape, dtype=np.float64)
        top = max(int(ts.max()), 0)
        table = np.empty(top + 1, dtype=np.float64)
        v = self.start
        table[0] = v
        for k in range(1, top + 1):
            v = v * float(self.fn(k))
            table[k] = v
        return table[np.maximum(ts, 0.0).astype(np.int64)]


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    """Cosine from ``start`` to ``end`` restarting every cycle; cycle ``i`` lasts ``period * mult**i``.

    The formula is torch's ``CosineAnnealingWarmRestarts``:
    ``end + (start - end) * (1 + cos(pi * t_cur / t_i)) / 2``, with the cycle found in closed form.

    Example:
        >>> s = CosineRestarts(1.0, 0.0, period=2, mult=2)
        >>> [round(s.value(t), 3) for t in range(7)]
        [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]

    """

    start: float
    end: float
    period: Duration
    mult: int = 1

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "period", check_duration("period", self.period, minimum=1))
        _set(self, "mult", check_int("mult", self.mult, minimum=1))

    def _cycle(self, t: int) -> tuple[int, int]:
        """(t_cur, t_i): position inside the current cycle and that cycle's length (exact ints)."""
        p, m = int(self.period), self.mult
        if m == 1:
            return t % p, p
        # Cycle n starts at p * (m**n - 1) / (m - 1); estimate n with a log, then fix it exactly.
        n = max(int(math.log(t / p * (m - 1) + 1, m)), 0)
        while p * (m ** (n + 1) - 1) // (m - 1) <= t:
            n += 1
        while n > 0 and p * (m**n - 1) // (m - 1) > t:
            n -= 1
        return t - p * (m**n - 1) // (m - 1), p * m**n

    def value(self, t: int) -> float:
        t_cur, t_i = self._cycle(max(int(t), 0))
        return self.end + (self.start - self.end) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def _values(self, ts: FloatArray) -> FloatArray:
        p, m = self.period, self.mult
        t = np.maximum(ts, 0.0).astype(np.int64)
        if m == 1:
            t_cur, t_i = t % p, np.full(t.shape, p, dtype=np.int64)
        else:
            n = np.maximum(np.floor(np.log(t / p * (m - 1) + 1) / math.log(m)), 0).astype(np.int64)
            # Same exact integer fix-up as the scalar path.
            n = np.where(p * (m ** (n + 1) - 1) // (m - 1) <= t, n + 1, n)
            n = np.where((n > 0) & (p * (m**n - 1) // (m - 1) > t), n - 1, n)
            t_cur, t_i = t - p * (m**n - 1) // (m - 1), p * m**n
        out: FloatArray = self.end + (self.start - self.end) * (1 + np.cos(math.pi * t_cur / t_i)) / 2
        return out


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@dataclass(frozen=True, repr=False)
class Cyclic(Schedule):
    """Triangular cycles between ``base`` and ``peak`` (torch's ``CyclicLR``), with torch's formula.

    Args:
        base: value at the start of each cycle.
        peak: value at the top of each cycle (below ``base`` for the inverse, momentum cycle).
        step_size_up: events from ``base`` to ``peak``.
        step_size_down: events from ``peak`` back to ``base``.
        mode: ``"triangular"``, ``"triangular2"`` (amplitude halves each cycle) or ``"exp_range"``
            (amplitude times ``gamma ** t``); ignored when ``scale_fn`` is given.
        gamma: the ``exp_range`` factor.
        scale_fn: custom amplitude scaling, evaluated on the cycle number or the event index
            according to ``scale_mode``.
        scale_mode: ``"cycle"`` or ``"iterations"``; the built-in modes impose their own, as torch.

    Example:
        >>> s = Cyclic(0.1, 1.0, step_size_up=2, step_size_down=2, mode="triangular2")
        >>> [round(s.value(t), 3) for t in range(8)]
        [0.1, 0.55, 1.0, 0.55, 0.1, 0.325, 0.55, 0.325]

    """

    base: float
    peak: float
    step_size_up: Duration
    step_size_down: Duration
    mode: str = "triangular"
    gamma: float = 1.0
    scale_fn: Callable[[float], float] | None = None
    scale_mode: str = "cycle"

    def __post_init__(self) -> None:
        _set(self, "base", check_float("base", self.base))
        _set(self, "peak", check_float("peak", self.peak))
        _set(self, "step_size_up", check_duration("step_size_up", self.step_size_up, minimum=1))
        _set(self, "step_size_down", check_duration("step_size_down", self.step_size_down, minimum=1))
        _set(self, "gamma", check_float("gamma", self.gamma, positive=True))
        if self.scale_fn is None:
            if self.mode not in CYCLIC_MODES:
                raise ValueError(f"`mode` must be one of {CYCLIC_MODES} when `scale_fn` is None, got {self.mode!r}")
            # The built-in modes impose their scale_mode, as torch does.
            _set(self, "scale_mode", "iterations" if self.mode == "exp_range" else "cycle")
        else:
            _check_callable("scale_fn", self.scale_fn)
        if self.scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"`scale_mode` must be one of ('cycle', 'iterations'), got {self.scale_mode!r}")

    def __repr__(self) -> str:
        fn = None if self.scale_fn is None else _callable_name(self.scale_fn)
        return (
            f"Cyclic(base={self.base!r}, peak={self.peak!r}, step_size_up={self.step_size_up!r}, "
            f"step_size_down={self.step_size_down!r}, mode={self.mode!r}, gamma={self.gamma!r}, "
            f"scale_fn={fn}, scale_mode={self.scale_mode!r})"
        )

    @property
    def vectorised(self) -> bool:
        return self.scale_fn is None  # a user scale_fn is called for the events that happen

    def _scale(self, x: float) -> float:
        if self.scale_fn is not None:
            custom: float = float(self.scale_fn(x))
            return custom
        if self.mode == "triangular":
            return 1.0
        v: float = 1 / (2.0 ** (x - 1)) if self.mode == "triangular2" else self.gamma**x
        return v

    def value(self, t: int) -> float:
        total = float(self.step_size_up) + float(self.step_size_down)
        ratio = float(self.step_size_up) / total
        epoch = max(int(t), 0)
        cycle = math.floor(1 + epoch / total)
        x = 1.0 + epoch / total - cycle
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        height = (self.peak - self.base) * factor
        return self.base + height * self._scale(cycle if self.scale_mode == "cycle" else epoch)

    def _values(self, ts: FloatArray) -> FloatArray:
        if self.scale_fn is not None:
            return np.array([self.value(int(t)) for t in ts.reshape(-1)], dtype=np.float64).reshape(ts.shape)
        total = float(self.step_size_up) + float(self.step_size_down)
        ratio = float(self.step_size_up) / total
        epoch = np.maximum(ts, 0.0)
        cycle = np.floor(1 + epoch / total)
        x = 1.0 + epoch / total - cycle
        factor = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        height = (self.peak - self.base) * factor
        arg = cycle if self.scale_mode == "cycle" else epoch
        if self.mode == "triangular":
            scale = np.ones(ts.shape)
        elif self.mode == "triangular2":
            scale = 1 / np.power(2.0, arg - 1)
        else:
            scale = np.power(self.gamma, arg)
        return self.base + height * scale


@dataclass(frozen=True)
class OneCycle(Schedule):
    """torch's ``OneCycleLR`` curve through ``start -> peak -> end`` (two or three phases).

    The phases end at torch's (float) steps ``pct_start * total_steps - 1`` and
    ``total_steps - 1`` (three-phase: ``start -> peak -> start -> end`` with the middle phase ending
    at ``2 * pct_start * total_steps - 2``), annealed with torch's cosine or linear formula. From
    ``total_steps`` on the value of step ``total_steps - 1`` holds (torch raises past the end).
    For the momentum curve pass ``start=max_momentum, peak=base_momentum, end=max_momentum``.

    Example:
        >>> s = OneCycle(0.04, 1.0, 4e-6, total_steps=10, pct_start=0.3, anneal="linear")
        >>> [round(s.value(t), 4) for t in (0, 2, 9, 50)]
        [0.04, 1.0, 0.0, 0.0]

    """

    start: float
    peak: float
    end: float
    total_steps: Duration
    pct_start: float = 0.3
    anneal: str = "cos"
    three_phase: bool = False
    _phases: tuple[tuple[float, float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("start", "peak", "end"):
            _set(self, name, check_float(name, getattr(self, name)))
        _set(self, "total_steps", check_duration("total_steps", self.total_steps, minimum=1))
        pct = check_float("pct_start", self.pct_start)
        if not 0.0 < pct < 1.0:
            raise ValueError(f"`pct_start` must be in (0, 1), got {self.pct_start!r}")
        _set(self, "pct_start", pct)
        if self.anneal not in ("cos", "linear"):
            raise ValueError(f"`anneal_strategy` must be one of ('cos', 'linear'), got {self.anneal!r}")
        check_bool("three_phase", self.three_phase)
        if isinstance(self.total_steps, TrainingFraction):
            return  # the phases wait for the fit's length
        total = self.total_steps
        if self.three_phase:
            ends = [float(pct * total) - 1, float(2 * pct * total) - 2, float(total - 1)]
            values = [(self.start, self.peak), (self.peak, self.start), (self.start, self.end)]
        else:
            ends = [float(pct * total) - 1, float(total - 1)]
            values = [(self.start, self.peak), (self.peak, self.end)]
        phases, begin = [], 0.0
        for i, end in enumerate(ends):
            if end == begin and (i == len(ends) - 1 or end >= 0):
                raise ValueError(
                    f"phase {i + 1} of the one-cycle schedule has zero length (total_steps={total}, "
                    f"pct_start={pct}); increase `total_steps` or change `pct_start`"
                )
            phases.append((end, *values[i]))
            begin = end
        _set(self, "_phases", tuple(phases))

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal == "cos":
            cos_out = math.cos(math.pi * pct) + 1
            return end + (start - end) / 2.0 * cos_out
        return (end - start) * pct + start

    def value(self, t: int) -> float:
        step = min(max(int(t), 0), self.total_steps - 1)
        begin = 0.0
        last = len(self._phases) - 1
        for i, (end, v0, v1) in enumerate(self._phases):
            if step <= end or i == last:
                return self._anneal(v0, v1, (step - begin) / (end - begin))
            begin = end
        raise AssertionError("unreachable")  # pragma: no cover

    def _values(self, ts: FloatArray) -> FloatArray:
        step = np.minimum(np.maximum(ts, 0.0), self.total_steps - 1)
        out = np.empty(ts.shape, dtype=np.float64)
        begin = 0.0
        done = np.zeros(ts.shape, dtype=bool)
        last = len(self._phases) - 1
        for i, (end, v0, v1) in enumerate(self._phases):
            mask = ~done & ((step <= end) | (i == last))
            pct = (step[mask] - begin) / (end - begin)
            if self.anneal == "cos":
                out[mask] = v1 + (v0 - v1) / 2.0 * (np.cos(math.pi * pct) + 1)
            else:
                out[mask] = (v1 - v0) * pct + v0
            done |= mask
            begin = end
        return out


@dataclass(frozen=True)
class Shift(Schedule):
    """``schedule`` read ``offset`` events ahead: ``value(t) = schedule.value(t + offset)``.

    Example:
        >>> Shift(Linear(0.0, 1.0, 4), 2).value(0)
        0.5
    """

    schedule: Schedule
    offset: int

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        _set(self, "offset", check_int("offset", self.offset))

    def value(self, t: int) -> float:
        return self.schedule.value(t + self.offset)

    def _values(self, ts: FloatArray) -> FloatArray:
        return self.schedule._values(ts + self.offset)


@dataclass(frozen=True)
class PowerRamp(Schedule):
    """``start + (end - start) * (t / steps) ** power`` until ``steps``, then ``end``.

    ``power=0.5`` from the peak to the floor is the "1 - sqrt" cooldown of warmup-stable-decay.

    Example:
        >>> [PowerRamp(1.0, 0.0, 4, power=0.5).value(t) for t in (0, 1, 4)]
        [1.0, 0.5, 0.0]
    """

    start: float
    end: float
    steps: Duration
    power: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_duration("steps", self.steps, minimum=1))
        _set(self, "power", check_float("power", self.power, positive=True))

    def value(self, t: int) -> float:
        if t >= self.steps:
            return self.end
        v: float = self.start + (self.end - self.start) * (max(float(t), 0.0) / self.steps) ** self.power
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        frac = np.minimum(np.maximum(ts, 0.0), int(self.steps)) / int(self.steps)
        ramp = self.start + (self.end - self.start) * np.power(frac, self.power)
        return np.where(ts >= self.steps, self.end, ramp)


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """Noam's schedule: ``scale * min(s ** -0.5, s * warmup_steps ** -1.5)`` with ``s = t + 1``.

    A linear warmup over ``warmup_steps`` to ``scale / sqrt(warmup_steps)``, then decay as
    ``1 / sqrt(s)`` ("Attention Is All You Need" uses ``scale = d_model ** -0.5``).

    Example:
        >>> s = InverseSqrt(1.0, warmup_steps=4)
        >>> [s.value(t) for t in (0, 3, 15)]
        [0.125, 0.5, 0.25]
    """

    scale: float
    warmup_steps: Duration

    def __post_init__(self) -> None:
        _set(self, "scale", check_float("scale", self.scale))
        _set(self, "warmup_steps", check_duration("warmup_steps", self.warmup_steps, minimum=1))

    def value(self, t: int) -> float:
        s = max(float(t), 0.0) + 1.0
        v: float = self.scale * min(s**-0.5, s * int(self.warmup_steps) ** -1.5)
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        s = np.maximum(ts, 0.0) + 1.0
        out: FloatArray = self.scale * np.minimum(np.power(s, -0.5), s * int(self.warmup_steps) ** -1.5)
        return out


@dataclass(frozen=True)
class CosineCycles(Schedule):
    """Cosine cycles from ``start`` to ``end`` with timm's options (``CosineLRScheduler`` without warmup).

    Cycle ``i`` lasts ``cycle_steps * cycle_mult**i`` events and peaks at ``start *
    cycle_decay**i``; after ``cycle_limit`` cycles the value stays at ``end``. ``k`` is the
    k-decay exponent: the phase is ``t_cur**k / t_i**k`` (``k=1`` is the plain cosine).

    Example:
        >>> s = CosineCycles(1.0, 0.0, cycle_steps=4, cycle_decay=0.5, cycle_limit=2)
        >>> [round(s.value(t), 3) for t in (0, 2, 4, 6, 8, 99)]
        [1.0, 0.5, 0.5, 0.25, 0.0, 0.0]
    """

    start: float
    end: float
    cycle_steps: Duration
    cycle_mult: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1
    k: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "cycle_steps", check_duration("cycle_steps", self.cycle_steps, minimum=1))
        mult = check_float("cycle_mult", self.cycle_mult, positive=True)
        if mult < 1.0:
            raise ValueError(f"`cycle_mult` must be >= 1, got {self.cycle_mult!r}")
        _set(self, "cycle_mult", mult)
        _set(self, "cycle_decay", check_float("cycle_decay", self.cycle_decay, positive=True))
        _set(self, "cycle_limit", check_int("cycle_limit", self.cycle_limit, minimum=1))
        _set(self, "k", check_float("k", self.k, positive=True))

    def _cycle(self, t: float) -> tuple[int, float, float]:
        """(cycle index, position in the cycle, cycle length), in closed form."""
        m, c = self.cycle_mult, self.cycle_steps
        if m == 1.0:
            i = int(t // c)
            return i, t - c * i, float(c)
        i = math.floor(math.log(1 - t / c * (1 - m), m))
        length = m**i * c
        return i, t - (1 - m**i) / (1 - m) * c, length

    def value(self, t: int) -> float:
        i, t_cur, t_i = self._cycle(max(float(t), 0.0))
        if i >= self.cycle_limit:
            return self.end
        peak = self.start * self.cycle_decay**i
        v: float = self.end + 0.5 * (peak - self.end) * (1 + math.cos(math.pi * t_cur**self.k / t_i**self.k))
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        return np.array([self.value(int(t)) for t in ts.reshape(-1)], dtype=np.float64).reshape(ts.shape)


@dataclass(frozen=True, repr=False)
class CyclicalAnneal(Schedule):
    """ignite's cyclical schedules (``CosineAnnealingScheduler``, ``LinearCyclicalScheduler``), exactly.

    Cycle ``k`` lasts ``cycle_size_k`` events plus a warmup of ``warmup_duration_k`` events back to
    the start value, both multiplied by ``cycle_mult`` (and truncated to ints) after each cycle; the
    start value is multiplied by ``start_value_mult`` when a cycle reaches its end value, the end
    value by ``end_value_mult`` when a new cycle begins. ``shape`` is ``"cosine"``, ``"linear"``
    (down and back up within a cycle) or ``"linear_monotonic"``. Values equal ignite's
    ``simulate_values`` bit for bit: the cycle table is built with ignite's own arithmetic and cached
    (a few entries: one per cycle up to the largest event asked for).

    Example:
        >>> s = CyclicalAnneal("linear", 1.0, 0.0, cycle_size=4)
        >>> [s.value(t) for t in range(6)]
        [1.0, 0.5, 0.0, 0.5, 1.0, 0.5]
    """

    shape: str
    start_value: float
    end_value: float
    cycle_size: Duration
    cycle_mult: float = 1.0
    start_value_mult: float = 1.0
    end_value_mult: float = 1.0
    warmup_duration: Duration = 0
    _table: list[tuple[int, int, int, float, float, float]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.shape not in ("cosine", "linear", "linear_monotonic"):
            raise ValueError(f"`shape` must be 'cosine', 'linear' or 'linear_monotonic', got {self.shape!r}")
        for name in ("start_value", "end_value"):
            _set(self, name, check_float(name, getattr(self, name)))
        for name in ("start_value_mult", "end_value_mult"):
            _set(self, name, check_float(name, getattr(self, name), positive=True))
        _set(self, "cycle_size", check_duration("cycle_size", self.cycle_size, minimum=2))
        mult = check_float("cycle_mult", self.cycle_mult, positive=True)
        if mult < 1.0:
            raise ValueError(f"`cycle_mult` must be >= 1 (cycles never shrink), got {self.cycle_mult!r}")
        _set(self, "cycle_mult", mult)
        _set(self, "warmup_duration", check_duration("warmup_duration", self.warmup_duration, minimum=0))
        if self.shape == "linear" and self.warmup_duration != 0:
            raise ValueError("`warmup_duration` > 0 needs `monotonic=True` for the linear cyclical schedule")
        _set(self, "_table", [])

    def __repr__(self) -> str:
        fields_ = ("shape", "start_value", "end_value", "cycle_size", "cycle_mult", "start_value_mult")
        more = ("end_value_mult", "warmup_duration")
        return "CyclicalAnneal(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in fields_ + more) + ")"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_table"] = []  # a cache: rebuilt on demand
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _periodic(self) -> bool:
        return self.cycle_mult == 1.0 and self.start_value_mult == 1.0 and self.end_value_mult == 1.0

    def _extend(self, t: int) -> None:
        """Extend the cycle table (begin, size, warmup, start before/after the bottom, end) past ``t``."""
        table = self._table
        if not table:
            start_after = self.start_value * self.start_value_mult
            table.append(
                (0, int(self.cycle_size), int(self.warmup_duration), self.start_value, start_after, self.end_value)
            )
        while True:
            begin, size, warmup, _, start_after, end = table[-1]
            if begin + size + warmup > t or (self._periodic() and len(table) >= 1):
                return
            new_size = int(size * self.cycle_mult)
            new_warmup = int(warmup * self.cycle_mult)
            table.append(
                (
                    begin + size + warmup,
                    new_size,
                    new_warmup,
                    start_after,
                    start_after * self.start_value_mult,
                    end * self.end_value_mult,
                )
            )

    def _row(self, t: int) -> tuple[int, int, int, float, float, float]:
        if self._periodic():
            self._extend(0)
            _, size, warmup, s0, s1, end = self._table[0]
            return t - t % (size + warmup), size, warmup, s0, s1, end
        self._extend(t)
        table = self._table
        lo, hi = 0, len(table) - 1
        while lo < hi:  # the last cycle that begins at or before t
            mid = (lo + hi + 1) // 2
            if table[mid][0] <= t:
                lo = mid
            else:
                hi = mid - 1
        return table[lo]

    def value(self, t: int) -> float:
        tt = max(int(t), 0)
        begin, size, warmup, s_before, s_after, end = self._row(tt)
        e = tt - begin
        if e > size:  # warmup back towards the (multiplied) start value
            return end + (s_after - end) * ((e - size) / warmup)
        start = s_before if e < size else s_after
        progress = e / size
        if self.shape == "cosine":
            return start + ((end - start) / 2) * (1 - math.cos(math.pi * progress))
        if self.shape == "linear_monotonic":
            return start + (end - start) * progress
        return end + (start - end) * abs(progress - 0.5) * 2

    def _values(self, ts: FloatArray) -> FloatArray:
        flat = np.maximum(ts.reshape(-1), 0.0).astype(np.int64)
        if flat.size == 0:
            return np.empty(ts.shape, dtype=np.float64)
        if self._periodic():
            self._extend(0)
            _, size, warmup, s0, s1, end = self._table[0]
            e = flat % (size + warmup)
            # Scalars broadcast: the same arithmetic as the table path, without per-event arrays.
            sizes: Any = size
            warmups: Any = max(warmup, 1)
            s_before: Any = s0
            s_after: Any = s1
            ends: Any = end
        else:
            self._extend(int(flat.max()))
            rows = self._table
            begins = np.array([row[0] for row in rows], dtype=np.int64)
            idx = np.searchsorted(begins, flat, side="right") - 1
            e = flat - begins[idx]
            sizes = np.array([row[1] for row in rows], dtype=np.int64)[idx]
            warmups = np.maximum(np.array([row[2] for row in rows], dtype=np.int64), 1)[idx]
            s_before = np.array([row[3] for row in rows], dtype=np.float64)[idx]
            s_after = np.array([row[4] for row in rows], dtype=np.float64)[idx]
            ends = np.array([row[5] for row in rows], dtype=np.float64)[idx]
        start = np.where(e < sizes, s_before, s_after)
        progress = e / sizes
        if self.shape == "cosine":
            curve = start + ((ends - start) / 2) * (1 - np.cos(math.pi * progress))
        elif self.shape == "linear_monotonic":
            curve = start + (ends - start) * progress
        else:
            curve = ends + (start - ends) * np.abs(progress - 0.5) * 2
        warm = ends + (s_after - ends) * ((e - sizes) / warmups)
        out: FloatArray = np.where(e > sizes, warm, curve).reshape(ts.shape)
        return out
