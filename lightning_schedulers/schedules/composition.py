"""Composition as data: joins in local time, products, scaling, clamping, shifts, user functions.

Examples:
    >>> from lightning_schedulers.schedules import Cosine, Linear, join
    >>> warmup_cosine = join([Linear(0.0, 1.0, 10), Cosine(1.0, 0.1, 90)], boundaries=[10])
    >>> warmup_cosine.value(0), warmup_cosine.value(10), warmup_cosine.value(100)
    (0.0, 1.0, 0.1)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from lightning_schedulers._validation import check_float, check_int, check_sequence
from lightning_schedulers.schedules.base import (
    FloatArray,
    Schedule,
    as_float,
    callable_name,
    check_callable,
    check_schedule,
    finite_or_raise,
    segments,
    set_field,
    user_values,
    with_fractions,
)
from lightning_schedulers.schedules.durations import (
    Duration,
    check_duration,
    check_duration_sequence,
    contains_fraction,
    resolve_durations,
)

__all__ = [
    "Clamp",
    "CumulativeProduct",
    "Deferred",
    "Join",
    "Lambda",
    "Product",
    "Scale",
    "Shift",
    "deferrable",
    "join",
    "sequence",
]


def _check_schedules(name: str, value: Any) -> tuple[Schedule, ...]:
    items = check_sequence(name, value)
    for i, s in enumerate(items):
        check_schedule(f"{name}[{i}]", s)
    return items


@dataclass(frozen=True)
class Join(Schedule):
    """Run ``schedules[i]`` from ``boundaries[i - 1]`` on, in local time (as optax's joins).

    Schedule ``i`` sees ``t - boundaries[i - 1]``, so each piece starts at its own ``t = 0``.

    Examples:
        >>> from lightning_schedulers.schedules import Constant, Linear
        >>> s = Join((Linear(0.0, 1.0, 2), Constant(5.0)), boundaries=(2,))
        >>> [s.value(t) for t in range(4)]
        [0.0, 0.5, 5.0, 5.0]

    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[Duration, ...]

    def __post_init__(self) -> None:
        scheds = _check_schedules("schedules", self.schedules)
        bounds = check_sequence("boundaries", self.boundaries, allow_empty=True)
        if len(bounds) != len(scheds) - 1:
            raise ValueError(
                f"`boundaries` must have len(schedules) - 1 = {len(scheds) - 1} entries, "
                f"got {len(bounds)}: {self.boundaries!r}"
            )
        if bounds:
            bounds = check_duration_sequence("boundaries", bounds, strictly_increasing=True, minimum=1)
        set_field(self, "schedules", scheds)
        set_field(self, "boundaries", tuple(bounds))

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        if len(self.schedules) == 1:
            self.schedules[0]._values_into(ts, out)
            return
        for i, (schedule, piece) in enumerate(zip(self.schedules, segments(ts, self.boundaries), strict=True)):
            local = ts[piece]
            if not local.size:
                continue
            if i:
                local = local - self.boundaries[i - 1]
            if isinstance(piece, slice):  # sorted times: the piece writes straight into its view
                schedule._values_into(local, out[piece])
            else:
                out[piece] = schedule._values(local)


@dataclass(frozen=True, repr=False)
class Deferred(Schedule):
    """A preset called with a fraction of training: built when the fit's length is known.

    ``resolve(total)`` calls ``fn`` with every fraction resolved; before that it has no value.
    Presets return one by themselves (see :func:`deferrable`); there is no need to build one.
    """

    fn: Callable[..., Schedule]
    arguments: tuple[tuple[str, Any], ...]

    def __post_init__(self) -> None:
        check_callable("fn", self.fn)
        given: Any = self.arguments
        if isinstance(given, dict):
            raise TypeError(f"`arguments` must be a sequence of (name, value) pairs (dict(...).items()), got {given!r}")
        items = check_sequence("arguments", given, allow_empty=True)
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise TypeError(f"`arguments[{i}]` must be a (name, value) pair, got {item!r} in {self.arguments!r}")
        try:
            inspect.signature(self.fn).bind(**dict(items))
        except ValueError:
            pass  # a callable without a signature (a builtin): its call reports the arguments
        except TypeError as error:
            raise TypeError(
                f"`arguments` {self.arguments!r} do not fit `fn` {callable_name(self.fn)}: {error}"
            ) from None
        set_field(self, "arguments", items)

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
        try:
            built = self.fn(**kwargs)
        except (TypeError, ValueError) as error:  # a check of the resolved lengths: name the fractions given
            raise with_fractions(error, dict(self.arguments), total) from None
        if not isinstance(built, Schedule):
            raise TypeError(
                f"`fn` {callable_name(self.fn)} must return a Schedule, got {built!r} ({type(built).__name__})"
            )
        return built.resolve(total)

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
    if isinstance(value, (list, tuple)) and not value:
        return value  # the function's own check reports it as given
    if isinstance(value, (list, tuple)):
        return tuple(check_duration(f"{name}[{i}]", v) for i, v in enumerate(value))
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)):
        return _as_durations(name, tuple(value))
    return check_duration(name, value)


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def join(schedules: Iterable[Schedule], boundaries: Iterable[int]) -> Join:
    """Join schedules at absolute event ``boundaries``; each piece runs in local time.

    Examples:
        >>> from lightning_schedulers.schedules import Constant
        >>> join([Constant(1.0), Constant(2.0)], boundaries=[3]).value(3)
        2.0

    """
    scheds = _check_schedules("schedules", schedules)
    bounds = check_sequence("boundaries", boundaries, allow_empty=True)
    if len(bounds) != len(scheds) - 1:
        raise ValueError(
            f"`boundaries` must have len(schedules) - 1 = {len(scheds) - 1} entries, got {len(bounds)}: {boundaries!r}"
        )
    return Join(scheds, bounds)


@deferrable("durations")
def sequence(schedules: Iterable[Schedule], durations: Iterable[int]) -> Schedule:
    """Run schedules one after another for the given ``durations``; the last runs on forever.

    ``durations`` has one entry fewer than ``schedules``.

    Examples:
        >>> from lightning_schedulers.schedules import Cosine, Linear
        >>> s = sequence([Linear(0.0, 1.0, 5), Cosine(1.0, 0.0, 5)], durations=[5])
        >>> s.value(5), s.value(10)
        (1.0, 0.0)

    """
    scheds = _check_schedules("schedules", schedules)
    durs = check_sequence("durations", durations, allow_empty=True)
    if len(durs) != len(scheds) - 1:
        raise ValueError(
            f"`durations` must have len(schedules) - 1 = {len(scheds) - 1} entries, got {len(durs)}: {durations!r}"
        )
    bounds: list[int] = []
    total = 0
    for i, d in enumerate(durs):
        total += check_int(f"durations[{i}]", d, minimum=1)
        bounds.append(check_int("durations (their sum)", total))
    return Join(scheds, tuple(bounds))


@dataclass(frozen=True)
class Product(Schedule):
    """Pointwise product of schedules (chaining multiplicative factors).

    Examples:
        >>> from lightning_schedulers.schedules import Constant, Step
        >>> Product((Constant(2.0), Step(1.0, 0.5, 1))).value(2)
        0.5

    """

    factors: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        set_field(self, "factors", _check_schedules("factors", self.factors))

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        self.factors[0]._values_into(ts, out)
        for factor in self.factors[1:]:
            out *= factor._values(ts)


@dataclass(frozen=True)
class Scale(Schedule):
    """A schedule multiplied by a constant ``factor``.

    Examples:
        >>> from lightning_schedulers.schedules import Linear
        >>> Scale(Linear(0.0, 1.0, 2), 3.0).value(1)
        1.5

    """

    schedule: Schedule
    factor: float

    _growth = ("factor", "schedule")

    def __post_init__(self) -> None:
        check_schedule("schedule", self.schedule)
        set_field(self, "factor", check_float("factor", self.factor))

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        self.schedule._values_into(ts, out)
        out *= self.factor


@dataclass(frozen=True)
class Clamp(Schedule):
    """A schedule clipped to ``[lower, upper]`` (either bound may be ``None``).

    Examples:
        >>> from lightning_schedulers.schedules import Linear
        >>> Clamp(Linear(0.0, 1.0, 10), lower=0.2).value(0)
        0.2

    """

    schedule: Schedule
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        check_schedule("schedule", self.schedule)
        if self.lower is None and self.upper is None:
            raise ValueError("`lower` and `upper` are both None; give at least one bound")
        if self.lower is not None:
            set_field(self, "lower", check_float("lower", self.lower))
        if self.upper is not None:
            set_field(self, "upper", check_float("upper", self.upper))
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"`lower` must be <= `upper`, got lower={self.lower!r}, upper={self.upper!r}")

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        self.schedule._values_into(ts, out)
        if self.lower is not None:
            np.copyto(out, self.lower, where=out < self.lower)
        if self.upper is not None:
            np.copyto(out, self.upper, where=out > self.upper)


@dataclass(frozen=True)
class Shift(Schedule):
    """``schedule`` read ``offset`` events ahead: ``value(t) = schedule.value(t + offset)``.

    Examples:
        >>> from lightning_schedulers.schedules import Linear
        >>> Shift(Linear(0.0, 1.0, 4), 2).value(0)
        0.5
    """

    schedule: Schedule
    offset: int

    def __post_init__(self) -> None:
        check_schedule("schedule", self.schedule)
        set_field(self, "offset", check_int("offset", self.offset, minimum=-(2**53)))

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        self.schedule._values_into(ts + self.offset, out)


@dataclass(frozen=True, repr=False)
class Lambda(Schedule):
    """``fn(t)`` for a user function of the event index (torch's ``LambdaLR`` factor).

    ``fn`` is called once per event with an ``int``: a Python function cannot be vectorised. To
    pickle the schedule (DDP spawn, LightningCLI), ``fn`` must be picklable: a module-level function
    or a callable object rather than a ``lambda``.

    Examples:
        >>> Lambda(lambda t: 0.5**t).value(3)
        0.125

    """

    fn: Callable[[int], float]
    #: The name messages give ``fn`` (a family class's argument, such as ``lr_lambda``).
    argument: str = field(default="fn", compare=False, kw_only=True)

    def __post_init__(self) -> None:
        check_callable("fn", self.fn)
        if not isinstance(self.argument, str):
            raise TypeError(f"`argument` must be a str, got {self.argument!r} ({type(self.argument).__name__})")

    def __repr__(self) -> str:
        return f"Lambda(fn={callable_name(self.fn)})"

    @property
    def vectorised(self) -> bool:
        return False  # a user function is called for the events that happen, not ahead of them

    def _values(self, ts: FloatArray) -> FloatArray:
        return user_values(self.fn, self.argument, np.maximum(ts, 0.0))


@dataclass(frozen=True, repr=False)
class CumulativeProduct(Schedule):
    """``start * fn(1) * fn(2) * ... * fn(t)``, multiplied left to right (torch's ``MultiplicativeLR``).

    This is the one schedule without a closed form: a product of arbitrary factors. It keeps a
    single cursor (the last ``t`` and its value), so stepping forward costs one call of ``fn``
    and memory stays constant; a jump to ``t`` (a resume) costs ``t`` calls once.

    Examples:
        >>> CumulativeProduct(lambda t: 0.5, start=2.0).value(3)
        0.25

    """

    fn: Callable[[int], float]
    start: float = 1.0
    _cursor: list[float] = field(init=False, repr=False, compare=False, hash=False)
    #: The name messages give ``fn`` (a family class's argument, such as ``lr_lambda``).
    argument: str = field(default="fn", compare=False, kw_only=True)

    _growth = ("fn", "start")

    def __post_init__(self) -> None:
        check_callable("fn", self.fn)
        if not isinstance(self.argument, str):
            raise TypeError(f"`argument` must be a str, got {self.argument!r} ({type(self.argument).__name__})")
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "_cursor", [0.0, self.start])  # [t, value at t]

    def __repr__(self) -> str:
        return f"CumulativeProduct(fn={callable_name(self.fn)}, start={self.start!r})"

    @property
    def vectorised(self) -> bool:
        return False  # the product is stepped one event at a time

    def __getstate__(self) -> dict[str, Any]:
        return {"fn": self.fn, "start": self.start, "argument": self.argument}

    def __setstate__(self, state: dict[str, Any]) -> None:
        set_field(self, "fn", state["fn"])
        set_field(self, "start", state["start"])
        set_field(self, "argument", state.get("argument", "fn"))
        set_field(self, "_cursor", [0.0, state["start"]])

    def value(self, t: int) -> float:
        return self._at(max(int(t), 0))

    def _at(self, target: int) -> float:
        """The product up to ``target``, moving the cursor there (the one place it is multiplied)."""
        cursor = self._cursor
        k, v = int(cursor[0]), cursor[1]
        if target < k:
            k, v = 0, self.start
        while k < target:
            k += 1
            v = v * as_float(self.argument, self.fn(k), k, self.fn)
            finite_or_raise(self, v, k)
        cursor[0], cursor[1] = float(k), v
        return v

    def _values(self, ts: FloatArray) -> FloatArray:
        flat = np.maximum(ts.reshape(-1), 0.0).astype(np.int64)
        out = np.empty(flat.shape, dtype=np.float64)
        for i in np.argsort(flat, kind="stable").tolist():  # ascending: each event steps the cursor on
            out[i] = self._at(int(flat[i]))
        return out.reshape(ts.shape)


def name_functions(schedule: Schedule, name_of: Callable[[Any], str | None]) -> Schedule:
    """``schedule`` with the user functions inside it named ``name_of(fn)`` in messages (where not ``None``).

    A family class builds :class:`Lambda` and :class:`CumulativeProduct` from its own arguments
    (``lr_lambda``); naming them lets an error say which argument returned a bad value. Values do
    not change: only the ``argument`` label of the functions found is set.
    """
    if isinstance(schedule, (Lambda, CumulativeProduct)):
        name = name_of(schedule.fn)
        return schedule if name is None or name == schedule.argument else replace(schedule, argument=name)
    if not hasattr(schedule, "__dataclass_fields__"):
        return schedule
    changes: dict[str, Any] = {}
    for f in fields(schedule):  # type: ignore[arg-type]
        if not f.init:
            continue
        value = getattr(schedule, f.name)
        if isinstance(value, Schedule):
            named = name_functions(value, name_of)
            if named is not value:
                changes[f.name] = named
        elif isinstance(value, tuple) and any(isinstance(v, Schedule) for v in value):
            items = tuple(name_functions(v, name_of) if isinstance(v, Schedule) else v for v in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[f.name] = items
    return replace(schedule, **changes) if changes else schedule  # type: ignore[type-var]
