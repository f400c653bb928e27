"""The basic shapes: constant, ramps, cosine, exponential and step decays, polynomials, piecewise lines.

Each shape is a frozen dataclass whose formula is written once, vectorised, in ``_values``.
Times before 0 are treated as 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lightning_schedulers._validation import check_bool, check_float, check_sequence
from lightning_schedulers.schedules.base import (
    FloatArray,
    Schedule,
    floor_div,
    floor_mod,
    in_pieces,
    integral_map,
    one_as_two,
    set_field,
)
from lightning_schedulers.schedules.durations import (
    Duration,
    TrainingFraction,
    check_duration,
    check_duration_sequence,
)

_FLOAT_MAX = 1.7976931348623157e308

__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "InverseSqrt",
    "Linear",
    "MultiStep",
    "PiecewiseLinear",
    "Polynomial",
    "PowerRamp",
    "Step",
]


@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every event.

    Examples:
        >>> Constant(0.3).value(10**9)
        0.3

    """

    level: float

    def __post_init__(self) -> None:
        set_field(self, "level", check_float("level", self.level))

    def _values(self, ts: FloatArray) -> FloatArray:
        return np.full(ts.shape, self.level)


@dataclass(frozen=True)
class Linear(Schedule):
    """Linear ramp from ``start`` at ``t = 0`` to ``end`` at ``t = steps``, then ``end``.

    ``steps = 0`` gives ``end`` from the first event (a warmup of length zero).

    Examples:
        >>> [Linear(0.0, 1.0, 4).value(t) for t in (0, 2, 4, 9)]
        [0.0, 0.5, 1.0, 1.0]

    """

    start: float
    end: float
    steps: Duration

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=0))

    def _values(self, ts: FloatArray) -> FloatArray:
        if self.steps == 0:
            return np.full(ts.shape, self.end)
        progress = np.minimum(np.maximum(ts, 0.0), int(self.steps)) / int(self.steps)
        ramp = self.start + (self.end - self.start) * progress
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

    Examples:
        >>> [round(Cosine(1.0, 0.0, 4).value(t), 12) for t in (0, 2, 4, 6)]
        [1.0, 0.5, 0.0, 0.0]

    """

    start: float
    end: float
    steps: Duration
    periodic: bool = False

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=1))
        check_bool("periodic", self.periodic)

    @one_as_two
    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        steps = int(self.steps)
        u = np.maximum(ts, 0.0, out=out)  # worked on in place, piece by piece
        if self.periodic:
            floor_mod(u, 2 * steps, out=u)
            np.subtract(2 * steps, u, out=u, where=u > steps)
        else:
            np.minimum(u, steps, out=u)
        d = self.start - self.end

        def sin_squared(x: FloatArray) -> None:  # sin(pi x / 2n)**2
            x *= math.pi
            x /= 2.0 * steps
            np.sin(x, out=x)
            x *= x

        def head(x: FloatArray) -> None:  # start - d * sin(pi u / 2n)**2
            sin_squared(x)
            x *= -d
            x += self.start

        def tail(x: FloatArray) -> None:  # end + d * sin(pi (n - u) / 2n)**2
            np.subtract(steps, x, out=x)
            sin_squared(x)
            x *= d
            x += self.end

        in_pieces(u, [steps / 2], "left", (head, tail))  # 2u <= n is the head


@dataclass(frozen=True)
class Exponential(Schedule):
    """``start * rate ** (max(t - begin, 0) / steps)``, optionally staircase and bounded by ``end``.

    Args:
        start: value at ``t <= begin``.
        rate: factor per ``steps`` events, ``> 0``. A growth rate (``> 1``) needs ``end``: a finite
            ceiling, or ``math.inf`` to grow until the value overflows float64, from which event on
            ``value`` raises a ``ValueError`` naming ``rate`` (never returning ``inf``).
        steps: events per factor of ``rate`` (optax's ``transition_steps``), ``>= 1``.
        staircase: floor the exponent, so the value changes every ``steps`` events.
        begin: events before the decay starts (optax's ``transition_begin``), ``>= 0``.
        end: bound the value never passes: a floor when decaying, a ceiling (or ``math.inf``) when growing.

    Examples:
        >>> Exponential(1.0, 0.5, steps=10).value(20)
        0.25

    """

    start: float
    rate: float
    steps: Duration = 1
    staircase: bool = False
    begin: Duration = 0
    end: float | None = None
    # Growth: the exponent from which the value sits at its ceiling `end`, and the largest exponent
    # fed to rate**p where the value stays finite whatever p (a ceiling, or start == 0).
    _p_ceiling: float = field(init=False, repr=False, compare=False)
    _p_max: float = field(init=False, repr=False, compare=False)

    _growth = ("rate", "start")

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "rate", check_float("rate", self.rate, positive=True))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=1))
        check_bool("staircase", self.staircase)
        set_field(self, "begin", check_duration("begin", self.begin, minimum=0))
        if self.end is not None:
            unbounded = self.end == math.inf and self.rate > 1.0  # growth until float64 overflows
            set_field(self, "end", math.inf if unbounded else check_float("end", self.end))
        p_ceiling = p_max = math.inf
        if self.rate > 1.0:
            if self.end is None:
                raise ValueError(
                    f"`rate` > 1 grows without bound and overflows; give `end` as the ceiling, or end=math.inf to "
                    f"grow until float64 overflows (an error at that event) (rate={self.rate!r}, end=None)"
                )
            if self.start < 0.0:
                raise ValueError(f"`rate` > 1 from a negative `start` diverges to -inf, got start={self.start!r}")
            if self.start > 0.0 and self.end != math.inf:
                p_ceiling = max(math.log(self.end / self.start) / math.log(self.rate), 0.0) if self.end > 0 else 0.0
            if self.end != math.inf or self.start == 0.0:
                p_max = min(p_ceiling, 700.0 / math.log(self.rate))  # rate**p_max < 1e305
        set_field(self, "_p_ceiling", p_ceiling)
        set_field(self, "_p_max", p_max)

    def _values(self, ts: FloatArray) -> FloatArray:
        p = np.subtract(ts, int(self.begin))
        np.maximum(p, 0.0, out=p)
        if self.staircase:
            return integral_map(floor_div(p, int(self.steps), out=p), self._at)
        p /= self.steps
        return self._at(p)

    def _at(self, p: FloatArray) -> FloatArray:
        """The value at exponent ``p`` (elementwise)."""
        with np.errstate(over="ignore"):  # growth with end=inf: values() reports the overflow by name
            v = self.start * np.power(self.rate, np.minimum(p, self._p_max))
        if self.end is None:
            return v
        v = np.maximum(v, self.end) if self.rate < 1.0 else np.minimum(v, self.end)
        return np.where(p >= self._p_ceiling, self.end, v)


def check_decay_factor(name: str, value: object) -> float:
    """A factor in ``(0, 1]``."""
    result = check_float(name, value, positive=True)
    if result > 1.0:
        raise ValueError(f"`{name}` must be in (0, 1], got {value!r}")
    return result


@dataclass(frozen=True)
class Step(Schedule):
    """``start * gamma ** (t // step_size)``: multiply by ``gamma`` every ``step_size`` events.

    ``gamma`` is in ``(0, 1]``; for growth use :class:`Exponential` with ``staircase=True``.

    Examples:
        >>> [Step(1.0, 0.5, 2).value(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]

    """

    start: float
    gamma: float
    step_size: Duration

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "gamma", check_decay_factor("gamma", self.gamma))
        set_field(self, "step_size", check_duration("step_size", self.step_size, minimum=1))

    def _values(self, ts: FloatArray) -> FloatArray:
        k = np.maximum(ts, 0.0)
        return integral_map(floor_div(k, int(self.step_size), out=k), self._at)

    def _at(self, k: FloatArray) -> FloatArray:
        """The value after ``k`` decays (elementwise)."""
        v: FloatArray = self.start * np.power(self.gamma, k)
        return v


@dataclass(frozen=True)
class MultiStep(Schedule):
    """``start * gamma ** k`` where ``k`` counts the milestones ``<= t``.

    A milestone listed twice multiplies by ``gamma`` twice, as in torch's ``MultiStepLR``. A growth
    factor (``gamma > 1``) is allowed: the exponent is bounded by the number of milestones, and a
    final value that would overflow is rejected here.

    Examples:
        >>> [MultiStep(1.0, 0.5, (2, 4)).value(t) for t in (0, 2, 4)]
        [1.0, 0.5, 0.25]
    """

    start: float
    gamma: float
    milestones: tuple[Duration, ...]

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "gamma", check_float("gamma", self.gamma, positive=True))
        set_field(self, "milestones", check_duration_sequence("milestones", self.milestones, strictly_increasing=False))
        growth = len(self.milestones) * math.log(self.gamma)
        if self.gamma > 1.0 and self.start != 0.0 and math.log(abs(self.start)) + growth >= math.log(_FLOAT_MAX):
            raise ValueError(
                f"`gamma`={self.gamma!r} over {len(self.milestones)} milestones overflows from start={self.start!r}"
            )

    def _values(self, ts: FloatArray) -> FloatArray:
        k = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), ts, side="right")
        # One value per count of milestones passed, read by every event (a gather, not a power each).
        table = self.start * np.power(self.gamma, np.arange(len(self.milestones) + 1, dtype=np.float64))
        out: FloatArray = table.take(k)
        return out


@dataclass(frozen=True)
class Polynomial(Schedule):
    """``(start - end) * (1 - t / steps) ** power + end`` until ``steps``, then ``end``.

    Examples:
        >>> [Polynomial(1.0, 0.0, 4, power=2.0).value(t) for t in (0, 2, 4, 8)]
        [1.0, 0.25, 0.0, 0.0]

    """

    start: float
    end: float
    steps: Duration
    power: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=1))
        set_field(self, "power", check_float("power", self.power, positive=True))

    def _values(self, ts: FloatArray) -> FloatArray:
        frac = 1.0 - np.minimum(np.maximum(ts, 0.0), int(self.steps)) / int(self.steps)
        curve = (self.start - self.end) * np.power(frac, self.power) + self.end
        return np.where(ts >= self.steps, self.end, curve)


@dataclass(frozen=True)
class PowerRamp(Schedule):
    """``start + (end - start) * (t / steps) ** power`` until ``steps``, then ``end``.

    ``power=0.5`` from the peak to the floor is the "1 - sqrt" cooldown of warmup-stable-decay.

    Examples:
        >>> [PowerRamp(1.0, 0.0, 4, power=0.5).value(t) for t in (0, 1, 4)]
        [1.0, 0.5, 0.0]
    """

    start: float
    end: float
    steps: Duration
    power: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=1))
        set_field(self, "power", check_float("power", self.power, positive=True))

    def _values(self, ts: FloatArray) -> FloatArray:
        frac = np.minimum(np.maximum(ts, 0.0), int(self.steps)) / int(self.steps)
        ramp = self.start + (self.end - self.start) * np.power(frac, self.power)
        return np.where(ts >= self.steps, self.end, ramp)


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """Noam's schedule: ``scale * min(s ** -0.5, s * warmup_steps ** -1.5)`` with ``s = t + 1``.

    A linear warmup over ``warmup_steps`` to ``scale / sqrt(warmup_steps)``, then decay as
    ``1 / sqrt(s)`` ("Attention Is All You Need" uses ``scale = d_model ** -0.5``).

    Examples:
        >>> s = InverseSqrt(1.0, warmup_steps=4)
        >>> [s.value(t) for t in (0, 3, 15)]
        [0.125, 0.5, 0.25]
    """

    scale: float
    warmup_steps: Duration

    def __post_init__(self) -> None:
        set_field(self, "scale", check_float("scale", self.scale))
        set_field(self, "warmup_steps", check_duration("warmup_steps", self.warmup_steps, minimum=1))

    def _values(self, ts: FloatArray) -> FloatArray:
        s = np.maximum(ts, 0.0) + 1.0
        out: FloatArray = self.scale * np.minimum(np.power(s, -0.5), s * int(self.warmup_steps) ** -1.5)
        return out


@dataclass(frozen=True)
class PiecewiseLinear(Schedule):
    """Linear interpolation between ``(event, value)`` points; the end values hold outside.

    Events may repeat: a repeated event is a jump, and the last value given for it applies from
    it on (ignite's ``PiecewiseLinear`` convention, whose arithmetic this follows).

    Examples:
        >>> s = PiecewiseLinear([(0, 0.0), (10, 1.0), (20, 0.5)])
        >>> [s.value(t) for t in (0, 5, 10, 15, 99)]
        [0.0, 0.5, 1.0, 0.75, 0.5]

    """

    points: tuple[tuple[Duration, float], ...]
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
        events = check_duration_sequence("points", [p[0] for p in clean], strictly_increasing=False)
        set_field(self, "points", tuple(clean))
        if not self.is_resolved:
            return  # the lookup tables wait for the fit's length
        # Lookup tables cached once; kept out of eq, hash and repr.
        set_field(self, "_events_array", np.asarray(events, dtype=np.float64))
        set_field(self, "_values_array", np.asarray([p[1] for p in clean], dtype=np.float64))

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
