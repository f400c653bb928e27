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
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lightning_schedulers._validation import (
    check_bool,
    check_float,
    check_int,
    check_int_sequence,
    check_sequence,
)

__all__ = [
    "Clamp",
    "Constant",
    "Cosine",
    "Exponential",
    "Join",
    "Linear",
    "MultiStep",
    "Phase",
    "PiecewiseLinear",
    "Polynomial",
    "Product",
    "Scale",
    "Schedule",
    "Step",
    "join",
    "join_phases",
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
    steps: int

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_int("steps", self.steps, minimum=0))

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

    Uses ``end + (start - end) * cos(pi t / (2 steps))**2``, which equals the usual
    ``(1 + cos(pi t / steps)) / 2`` form but keeps full relative precision near the floor. With
    ``periodic=True`` the curve is not held after ``steps`` but continues as a cosine wave of
    period ``2 * steps`` (torch's ``CosineAnnealingLR`` past ``T_max``).

    Example:
        >>> [round(Cosine(1.0, 0.0, 4).value(t), 6) for t in (0, 2, 4, 6)]
        [1.0, 0.5, 0.0, 0.0]

    """

    start: float
    end: float
    steps: int
    periodic: bool = False

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_int("steps", self.steps, minimum=1))
        check_bool("periodic", self.periodic)

    def value(self, t: int) -> float:
        tt = max(float(t), 0.0)
        if tt >= self.steps and not self.periodic:
            return self.end
        c = math.cos(math.pi * tt / (2.0 * self.steps))
        return self.end + (self.start - self.end) * (c * c)

    def _values(self, ts: FloatArray) -> FloatArray:
        tt = np.maximum(ts, 0.0)
        c = np.cos(math.pi * tt / (2.0 * self.steps))
        curve = self.end + (self.start - self.end) * (c * c)
        if self.periodic:
            return curve
        return np.where(tt >= self.steps, self.end, curve)


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
    steps: int = 1
    staircase: bool = False
    begin: int = 0
    end: float | None = None
    # Growth only: the exponent from which the value sits at its ceiling `end`, and the largest
    # exponent ever fed to rate**p, so that a bounded growth curve never overflows.
    _p_ceiling: float = field(init=False, repr=False, compare=False)
    _p_max: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "rate", check_float("rate", self.rate, positive=True))
        _set(self, "steps", check_int("steps", self.steps, minimum=1))
        check_bool("staircase", self.staircase)
        _set(self, "begin", check_int("begin", self.begin, minimum=0))
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
    step_size: int

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "gamma", _check_decay_factor("gamma", self.gamma))
        _set(self, "step_size", check_int("step_size", self.step_size, minimum=1))

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

    A milestone listed twice multiplies by ``gamma`` twice, as in torch's ``MultiStepLR``.

    Example:
        >>> [MultiStep(1.0, 0.1, (2, 4)).value(t) for t in (0, 2, 4)]
        [1.0, 0.1, 0.010000000000000002]

    """

    start: float
    gamma: float
    milestones: tuple[int, ...]

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "gamma", _check_decay_factor("gamma", self.gamma))
        _set(
            self,
            "milestones",
            check_int_sequence("milestones", self.milestones, strictly_increasing=False),
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
    steps: int
    power: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "start", check_float("start", self.start))
        _set(self, "end", check_float("end", self.end))
        _set(self, "steps", check_int("steps", self.steps, minimum=1))
        _set(self, "power", check_float("power", self.power, positive=True))

    def value(self, t: int) -> float:
        if t >= self.steps:
            return self.end
        frac = 1.0 - max(float(t), 0.0) / self.steps
        v: float = (self.start - self.end) * frac**self.power + self.end
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        frac = 1.0 - np.minimum(np.maximum(ts, 0.0), self.steps) / self.steps
        curve = (self.start - self.end) * np.power(frac, self.power) + self.end
        return np.where(ts >= self.steps, self.end, curve)


@dataclass(frozen=True)
class PiecewiseLinear(Schedule):
    """Linear interpolation between ``(event, value)`` points; the end values hold outside.

    Example:
        >>> s = PiecewiseLinear([(0, 0.0), (10, 1.0), (20, 0.5)])
        >>> [s.value(t) for t in (0, 5, 10, 15, 99)]
        [0.0, 0.5, 1.0, 0.75, 0.5]

    """

    points: tuple[tuple[int, float], ...]
    _events: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _events_array: FloatArray = field(init=False, repr=False, compare=False)
    _values_array: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pairs = check_sequence("points", self.points)
        clean: list[tuple[int, float]] = []
        for i, pair in enumerate(pairs):
            item = check_sequence(f"points[{i}]", pair)
            if len(item) != 2:
                raise ValueError(f"`points[{i}]` must be an (event, value) pair, got {pair!r}")
            clean.append(
                (
                    check_int(f"points[{i}][0]", item[0], minimum=0),
                    check_float(f"points[{i}][1]", item[1]),
                )
            )
        events = check_int_sequence("points events", [p[0] for p in clean], strictly_increasing=True)
        _set(self, "points", tuple(clean))
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
        return v0 + (v1 - v0) * ((float(t) - t0) / (t1 - t0))

    def _values(self, ts: FloatArray) -> FloatArray:
        events: FloatArray = self._events_array
        vals: FloatArray = self._values_array
        n = len(self.points)
        i = np.searchsorted(events, ts, side="right")
        lo = np.clip(i - 1, 0, n - 1)
        hi = np.clip(i, 0, n - 1)
        span = np.where(hi > lo, events[hi] - events[lo], 1.0)
        inner = vals[lo] + (vals[hi] - vals[lo]) * ((ts - events[lo]) / span)
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
    boundaries: tuple[int, ...]

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
            bounds = check_int_sequence("boundaries", bounds, strictly_increasing=True, minimum=1)
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


def join(schedules: Iterable[Schedule], boundaries: Iterable[int]) -> Join:
    """Join schedules at absolute event ``boundaries``; each piece runs in local time.

    Example:
        >>> join([Constant(1.0), Constant(2.0)], boundaries=[3]).value(3)
        2.0

    """
    return Join(tuple(schedules), tuple(boundaries))


def sequence(schedules: Iterable[Schedule], durations: Iterable[int]) -> Join:
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


@dataclass(frozen=True, init=False)
class Phase:
    """Several named schedules that run together for ``steps`` events (poutyne's ``Phase``).

    The names are the keys the schedules drive (``"lr"``, ``"momentum"``, any param-group key).
    Inside a phase each schedule sees local time ``0 .. steps - 1``. Chain phases with
    :func:`join_phases`.

    Example:
        >>> p = Phase(10, lr=Linear(0.1, 1.0, 10), momentum=Linear(0.95, 0.85, 10))
        >>> p.keys
        ('lr', 'momentum')

    """

    steps: int
    schedules: tuple[tuple[str, Schedule], ...]

    def __init__(self, steps: int, /, **schedules: Schedule) -> None:
        _set(self, "steps", check_int("steps", steps, minimum=1))
        if not schedules:
            raise ValueError("a Phase needs at least one named schedule, got none")
        for key, schedule in schedules.items():
            _check_schedule(key, schedule)
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


def join_phases(phases: Sequence[Phase]) -> dict[str, Schedule]:
    """Chain phases into one schedule per key; the last phase's values hold after it ends.

    Every phase must drive the same keys, so no value is silently left unscheduled for a phase.

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
    durations = [phase.steps for phase in items[:-1]]
    return {key: sequence([phase[key] for phase in items], durations) for key in keys}
