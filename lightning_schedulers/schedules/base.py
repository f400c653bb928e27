"""The :class:`Schedule` base class: one vectorised formula per schedule, evaluated for one event or many.

A schedule writes its arithmetic once, in ``_values(ts)`` (numpy, float64 event indices), or in
``_values_into(ts, out)`` where it works in place. ``value(t)`` runs that same code on a
one-element array and ``values(ts)`` on many, so the two return identical floats on every CPU:
numpy's SIMD kernels (AVX2 or AVX-512) treat the last, partial vector of an array with the same
instructions as the full ones. Nothing here imports torch or Lightning.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any, Literal, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lightning_schedulers.schedules.durations import contains_fraction, resolve_durations

__all__ = ["FloatArray", "Schedule", "callable_name", "check_callable", "check_schedule"]

FloatArray = NDArray[np.float64]


def times(ts: ArrayLike) -> FloatArray:
    """Event indices as a float64 array (exact for every index up to 2**53)."""
    arr = np.asarray(ts)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise TypeError(f"`ts` must hold integer event indices, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def floor_div(t: FloatArray, period: Any, out: FloatArray | None = None) -> FloatArray:
    """``t // period`` for event counts ``0 <= t <= 2**53`` and a positive integral ``period``, exactly.

    numpy's float ``//`` follows Python's ``divmod`` and costs several times a division; the
    rounded quotient is at most one too large, which the correction removes. The correction is
    needed only from ``|t| + period >= 2**53`` on: below, ``t / period`` is at least
    ``1 / period`` from the next integer, more than half an ulp, so it never rounds up to it. On
    many events two reductions decide, and the quotient is computed in place (``out=t`` divides
    in t's memory; use the result): each temporary of a simulation is megabytes of fresh memory.
    """
    if t.size <= 8 or max(float(t.max()), -float(t.min())) + period >= 2.0**53:  # NaN: False, as below
        k = np.floor(t / period)
        corrected: FloatArray = k - (k * period > t)
        return corrected
    quotient: FloatArray = np.divide(t, period, out=out)
    return np.floor(quotient, out=quotient)


def floor_mod(t: FloatArray, period: Any, out: FloatArray | None = None) -> FloatArray:
    """``t - period * floor_div(t, period)``: the position within a period, exactly (same conditions).

    ``out=t`` works in place.
    """
    k = floor_div(t, period)
    k *= period
    result: FloatArray = np.subtract(t, k, out=k if out is None else out)
    return result


_Into = TypeVar("_Into", bound=Callable[..., None])


def one_as_two(into: _Into) -> _Into:
    """Run a ``_values_into`` written with in-place ufuncs on two copies of a lone event (``value(t)``).

    numpy's in-place ufuncs take a slow path on a one-element array (twice the time: the overlap
    test fails on its zero stride), which ``value(t)`` would pay at every operation; on two
    elements they take the fast one. The formula is elementwise: the copy gets the very float the
    lone event would. Only for formulas without user functions (called twice otherwise).
    """

    @functools.wraps(into)
    def wrapper(self: Schedule, ts: FloatArray, out: FloatArray) -> None:
        if ts.shape == (1,):
            pair = np.empty(2, dtype=np.float64)
            into(self, np.repeat(ts, 2), pair)
            out[0] = pair[0]
        else:
            into(self, ts, out)

    return cast("_Into", wrapper)


def segments(ts: FloatArray, edges: Any, side: Literal["left", "right"] = "right") -> list[Any]:
    """Index each of the ``len(edges) + 1`` pieces of ``ts`` that ``edges`` separate.

    Piece ``i`` holds the events between ``edges[i - 1]`` and ``edges[i]`` (``searchsorted``'s
    ``side`` says where an event equal to an edge goes). Sorted times (a simulation, a block of
    the hot path) give slices, which are views; other times give boolean masks.
    """
    if ts.ndim == 1 and 0 < ts.size <= 2 and ts[0] == ts[-1]:
        # value(t), alone or as two copies (one_as_two): placed in Python, in half the time.
        x, n = float(ts[0]), ts.size
        bounds_list = np.asarray(edges, dtype=np.float64).tolist()
        piece = sum(bool(x > e) if side == "left" else bool(x >= e) for e in bounds_list)
        return [slice(0, n) if i == piece else slice(0, 0) for i in range(len(bounds_list) + 1)]
    bounds = np.asarray(edges, dtype=np.float64)
    flat = ts.reshape(-1)
    if ts.ndim == 1 and (flat.size < 2 or bool((flat[1:] >= flat[:-1]).all())):
        other: Literal["left", "right"] = "left" if side == "right" else "right"
        cuts = [0, *np.searchsorted(flat, bounds, side=other).tolist(), flat.size]
        return [slice(a, b) for a, b in itertools.pairwise(cuts)]
    index = np.searchsorted(bounds, ts, side=side)
    return [index == i for i in range(len(bounds) + 1)]


def in_pieces(
    v: FloatArray,
    edges: Any,
    side: Literal["left", "right"],
    formulas: Sequence[Callable[[FloatArray], object]],
) -> FloatArray:
    """Run ``formulas[i]`` in place on piece ``i`` of ``v`` (the pieces of :func:`segments`); return ``v``.

    A piecewise schedule then evaluates each piece's formula on that piece's events only, where
    ``np.where`` would evaluate every branch on every event. ``v`` is an array the caller owns (it
    is overwritten); a formula works in place on the array it is given (``out=``). Sorted times
    give views, worked on directly; a mask's events are gathered and written back.
    """
    for formula, piece in zip(formulas, segments(v, edges, side), strict=True):
        if isinstance(piece, slice):
            if piece.start < piece.stop:
                formula(v[piece])
        elif piece.any():
            part = v[piece]
            formula(part)
            v[piece] = part
    return v


def integral_map(k: FloatArray, formula: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """``formula(k)`` for an elementwise ``formula`` and a ``k`` that holds still over long runs (a staircase).

    Where ``k`` changes fewer than ``len(k) / 64`` times, ``formula`` runs once per run and its
    value is written over the run, in ``k``'s memory (the caller gives ``k`` up): a slice fill
    costs a fraction of a power and needs no temporary. ``formula`` is elementwise, so each event
    gets the very float it would get on its own.
    """
    if k.ndim == 1 and k.size >= 64:
        starts = np.flatnonzero(k[1:] != k[:-1]) + 1  # NaN != NaN: every NaN is a run of its own
        if len(starts) < k.size // 64:  # ~0.3 us a run against ~5 ns a power: fewer runs, less time
            bounds = [0, *starts.tolist(), k.size]
            for value, a, b in zip(formula(k[bounds[:-1]]).tolist(), bounds[:-1], bounds[1:], strict=True):
                k[a:b] = value
            return k
    return formula(k)


def set_field(obj: object, name: str, value: Any) -> None:
    """Normalise a field of a frozen dataclass in ``__post_init__``."""
    object.__setattr__(obj, name, value)


class Schedule:
    """Base class of every schedule: a pure map from an event index to a float.

    A subclass implements ``_values(ts)`` once, with numpy, on float64 event indices; ``value`` and
    ``values`` both call it, so they agree exactly. A value that overflows float64 is never
    returned: ``value`` and ``values`` raise ``ValueError`` naming the arguments responsible.

    Examples:
        >>> from lightning_schedulers.schedules import Linear
        >>> s = 2.0 * Linear(0.0, 1.0, 4)
        >>> [s.value(t) for t in range(5)]
        [0.0, 0.5, 1.0, 1.5, 2.0]

    """

    __slots__ = ()

    #: The arguments that make values grow (named first when a value overflows).
    _growth: tuple[str, ...] = ()

    def value(self, t: int) -> float:
        """Return the value at event index ``t``: ``values`` on a one-element array."""
        return finite_or_raise(self, float(self._values(np.array((t,), dtype=np.float64))[0]), int(t))

    def values(self, ts: ArrayLike, out: FloatArray | None = None) -> FloatArray:
        """Return the values at every event index of ``ts`` as a float64 array.

        ``out``: a float64 array of ``ts``'s shape to write them into (and return), such as a
        column of a Fortran-ordered table: several schedules then fill one table, without a
        stacking copy. A contiguous ``out`` gets the very floats a new array would.
        """
        arr = times(ts)
        if out is None:
            out = self._values(arr)
        elif out.dtype != np.float64 or out.shape != arr.shape:
            raise ValueError(f"`out` must be a float64 array of shape {arr.shape}, got {out.dtype} {out.shape}")
        else:
            self._values_into(arr, out)
        # A sum is finite only if every term is; the elementwise test runs only when it is not.
        with np.errstate(over="ignore", invalid="ignore"):  # finite terms may sum past float64
            total = float(np.add.reduce(out, axis=None))
        if not math.isfinite(total) and not np.isfinite(out).all():
            bad = int(np.argmin(np.isfinite(out).reshape(-1)))
            raise self.overflow_error(int(arr.reshape(-1)[bad]), float(out.reshape(-1)[bad]))
        return out

    def _values(self, ts: FloatArray) -> FloatArray:
        out = np.empty(ts.shape, dtype=np.float64)
        self._values_into(ts, out)
        return out

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        """Write the values at ``ts`` into ``out`` (same shape, not overlapping ``ts``).

        A schedule defines this or ``_values``, not both. Composites write their parts into their
        own output through it (a join's pieces, a scale): no temporary of a simulation's size per
        level, and a formula written in place needs none at all.
        """
        if type(self)._values is Schedule._values:
            raise NotImplementedError(f"{type(self).__name__} defines neither _values nor _values_into")
        out[...] = self._values(ts)

    def overflow_error(self, t: int, got: float) -> ValueError:
        """The error for a non-finite value ``got`` at event ``t``, naming the arguments behind it."""
        names = self._growth or tuple(
            f.name
            for f in fields(self)  # type: ignore[arg-type]
            if f.init and isinstance(getattr(self, f.name), (float, Schedule, tuple))
        )
        given = ", ".join(f"`{n}`={getattr(self, n)!r}" for n in names)
        return ValueError(
            f"{self!r} gives {got!r} at event {t}: {given} overflow float64 there; "
            "bound the growth (an `end` ceiling, smaller factors) or stop the schedule earlier"
        )

    def __call__(self, t: int) -> float:
        return self.value(t)

    def __mul__(self, other: object) -> Schedule:
        from lightning_schedulers.schedules.composition import Product, Scale

        if isinstance(other, Schedule):
            return Product((self, other))
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return Scale(self, other)
        return NotImplemented

    __rmul__ = __mul__

    def clamp(self, lower: float | None = None, upper: float | None = None) -> Schedule:
        """Return this schedule with its values clipped to ``[lower, upper]``."""
        from lightning_schedulers.schedules.composition import Clamp

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

        Examples:
            >>> from lightning_schedulers.schedules import Linear, fraction
            >>> Linear(0.0, 1.0, fraction(0.5)).resolve(10)
            Linear(start=0.0, end=1.0, steps=5)
        """
        if self.is_resolved:
            return self
        changes = {f.name: resolve_durations(getattr(self, f.name), total) for f in fields(self) if f.init}  # type: ignore[arg-type]
        try:
            return replace(self, **changes)  # type: ignore[type-var]
        except (TypeError, ValueError) as error:
            given = {f.name: getattr(self, f.name) for f in fields(self) if f.init}  # type: ignore[arg-type]
            raise with_fractions(error, given, total) from None


def with_fractions(error: Exception, given: dict[str, Any], total: int) -> Exception:
    """``error`` (a check of resolved lengths) with the fractions of training they were resolved from.

    A length given as a fraction is checked as the number of events it resolves to; the message then
    also names the fraction given, so that the argument can be found as it was written.
    """
    fractions = [f"`{name}`={value!r}" for name, value in given.items() if contains_fraction(value)]
    if not fractions:
        return error
    return type(error)(f"{error} (from {', '.join(fractions)} of a fit of {total} events)")


def check_schedule(name: str, value: Any) -> Schedule:
    """Return ``value`` after checking it is a :class:`Schedule`."""
    if not isinstance(value, Schedule):
        raise TypeError(f"`{name}` must be a Schedule, got {value!r} ({type(value).__name__})")
    return value


def callable_name(fn: Any) -> str:
    """A stable description of a callable for reprs and checkpoint fingerprints (no addresses)."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def check_callable(name: str, value: Any) -> Callable[..., float]:
    """Return ``value`` after checking it is callable."""
    if not callable(value):
        raise TypeError(f"`{name}` must be callable, got {value!r} ({type(value).__name__})")
    return value  # type: ignore[no-any-return]


def user_values(fn: Callable[[int], Any], name: str, ts: FloatArray) -> FloatArray:
    """``fn(int(t))`` for every event of ``ts``: a user function is called once per event, in order."""
    flat = ts.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    for i, t in enumerate(flat.tolist()):
        out[i] = as_float(name, fn(int(t)), int(t), fn)
    return out.reshape(ts.shape)


def as_float(name: str, result: Any, t: int, fn: Any = None) -> float:
    """A user function's result as a finite float, or a clear error naming the function's argument.

    A NaN or infinite result is the function's, not an overflow of the schedule around it: the
    error says that ``name`` returned it, at which event.
    """
    which = "" if fn is None else f" ({callable_name(fn)})"
    try:
        value = float(result)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"`{name}`{which} returned {result!r} at event {t}; it must return a real number") from None
    if not math.isfinite(value):
        raise ValueError(f"`{name}`{which} returned {value!r} at event {t}; it must return a finite number")
    return value


def finite_or_raise(schedule: Schedule, v: float, t: int) -> float:
    """``v`` if finite, else the schedule's overflow error (for scalar, stateful evaluation)."""
    if not math.isfinite(v):
        raise schedule.overflow_error(t, v)
    return v
