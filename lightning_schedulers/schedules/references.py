"""The reference libraries' own shapes: torch's restarts, cycles and one-cycle, timm's cosine cycles, ignite's cycles.

Each uses its reference's operations in its reference's order, vectorised; parity with the
reference is a stated tolerance (1e-12 relative), since numpy's transcendental kernels and Python's
``math`` may differ by an ulp. Cycle positions are closed form (or, for ignite's truncated cycle
growth, a table of one row per cycle, bounded by the 2**53 events float64 can count).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lightning_schedulers._validation import MAX_EVENTS, check_bool, check_float, check_int
from lightning_schedulers.schedules.base import (
    FloatArray,
    Schedule,
    callable_name,
    check_callable,
    floor_div,
    floor_mod,
    in_pieces,
    one_as_two,
    set_field,
    user_values,
)
from lightning_schedulers.schedules.durations import Duration, TrainingFraction, check_duration

__all__ = ["CYCLIC_MODES", "CosineCycles", "CosineRestarts", "Cyclic", "CyclicalAnneal", "OneCycle"]


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    """Cosine from ``start`` to ``end`` restarting every cycle; cycle ``i`` lasts ``period * mult**i``.

    The formula is torch's ``CosineAnnealingWarmRestarts``:
    ``end + (start - end) * (1 + cos(pi * t_cur / t_i)) / 2``; the cycle is found exactly, from a
    table of the (at most 54) cycle starts below 2**53.

    Examples:
        >>> s = CosineRestarts(1.0, 0.0, period=2, mult=2)
        >>> [round(s.value(t), 3) for t in range(7)]
        [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]

    """

    start: float
    end: float
    period: Duration
    mult: int = 1
    _starts: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "period", check_duration("period", self.period, minimum=1))
        set_field(self, "mult", check_int("mult", self.mult, minimum=1))
        starts = [0]
        if self.mult > 1 and not isinstance(self.period, TrainingFraction):
            length = int(self.period)
            while starts[-1] <= MAX_EVENTS:
                starts.append(starts[-1] + length)
                length *= self.mult
        set_field(self, "_starts", np.asarray(starts, dtype=np.float64))

    def _values(self, ts: FloatArray) -> FloatArray:
        p = int(self.period)
        t = np.minimum(np.maximum(ts, 0.0), MAX_EVENTS)
        if self.mult == 1:
            t_cur, t_i = t - p * floor_div(t, p), np.float64(p)
        else:
            n = np.searchsorted(self._starts, t, side="right") - 1
            t_cur = t - self._starts[n]
            t_i = self._starts[n + 1] - self._starts[n]
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
        scale_fn: custom amplitude scaling, called with the cycle number or the event index (an
            ``int``) according to ``scale_mode``.
        scale_mode: ``"cycle"`` or ``"iterations"``; the built-in modes impose their own, as torch.

    Examples:
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

    _growth = ("gamma", "scale_fn", "base", "peak")

    def __post_init__(self) -> None:
        set_field(self, "base", check_float("base", self.base))
        set_field(self, "peak", check_float("peak", self.peak))
        set_field(self, "step_size_up", check_duration("step_size_up", self.step_size_up, minimum=1))
        set_field(self, "step_size_down", check_duration("step_size_down", self.step_size_down, minimum=1))
        set_field(self, "gamma", check_float("gamma", self.gamma, positive=True))
        if self.scale_fn is None:
            if self.mode not in CYCLIC_MODES:
                raise ValueError(f"`mode` must be one of {CYCLIC_MODES} when `scale_fn` is None, got {self.mode!r}")
            # The built-in modes impose their scale_mode, as torch does.
            set_field(self, "scale_mode", "iterations" if self.mode == "exp_range" else "cycle")
        else:
            check_callable("scale_fn", self.scale_fn)
        if self.scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"`scale_mode` must be one of ('cycle', 'iterations'), got {self.scale_mode!r}")

    def __repr__(self) -> str:
        fn = None if self.scale_fn is None else callable_name(self.scale_fn)
        return (
            f"Cyclic(base={self.base!r}, peak={self.peak!r}, step_size_up={self.step_size_up!r}, "
            f"step_size_down={self.step_size_down!r}, mode={self.mode!r}, gamma={self.gamma!r}, "
            f"scale_fn={fn}, scale_mode={self.scale_mode!r})"
        )

    @property
    def vectorised(self) -> bool:
        return self.scale_fn is None  # a user scale_fn is called for the events that happen

    def _scale(self, arg: FloatArray) -> FloatArray:
        if self.scale_fn is not None:
            return user_values(self.scale_fn, "scale_fn", arg)
        if self.mode == "triangular":
            return np.ones(arg.shape)
        if self.mode == "triangular2":
            out: FloatArray = 1 / np.power(2.0, arg - 1)
            return out
        with np.errstate(over="ignore"):  # a growing exp_range overflows: values() names `gamma`
            return np.power(self.gamma, arg)

    def _values(self, ts: FloatArray) -> FloatArray:
        total = float(self.step_size_up) + float(self.step_size_down)
        ratio = float(self.step_size_up) / total
        epoch = np.maximum(ts, 0.0)
        cycle = np.floor(1 + epoch / total)
        x = 1.0 + epoch / total - cycle
        factor = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        height = (self.peak - self.base) * factor
        with np.errstate(invalid="ignore"):
            out: FloatArray = self.base + height * self._scale(cycle if self.scale_mode == "cycle" else epoch)
        return out


@dataclass(frozen=True)
class OneCycle(Schedule):
    """torch's ``OneCycleLR`` curve through ``start -> peak -> end`` (two or three phases).

    The phases end at torch's (float) steps ``pct_start * total_steps - 1`` and
    ``total_steps - 1`` (three-phase: ``start -> peak -> start -> end`` with the middle phase ending
    at ``2 * pct_start * total_steps - 2``), annealed with torch's cosine or linear formula. From
    ``total_steps`` on the value of step ``total_steps - 1`` holds (torch raises past the end).
    For the momentum curve pass ``start=max_momentum, peak=base_momentum, end=max_momentum``.

    Examples:
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
            set_field(self, name, check_float(name, getattr(self, name)))
        set_field(self, "total_steps", check_duration("total_steps", self.total_steps, minimum=1))
        pct = check_float("pct_start", self.pct_start)
        if not 0.0 < pct < 1.0:
            raise ValueError(f"`pct_start` must be in (0, 1), got {self.pct_start!r}")
        set_field(self, "pct_start", pct)
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
        set_field(self, "_phases", tuple(phases))

    @one_as_two
    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        step = np.maximum(ts, 0.0, out=out)  # worked on in place, phase by phase
        np.minimum(step, int(self.total_steps) - 1, out=step)
        begins = [0.0, *(end for end, _, _ in self._phases[:-1])]
        phases = [
            functools.partial(self._phase, begin, *phase) for begin, phase in zip(begins, self._phases, strict=True)
        ]
        # A step belongs to the first phase whose (float) end it does not pass; the last takes the rest.
        in_pieces(step, begins[1:], "left", phases)

    def _phase(self, begin: float, end: float, v0: float, v1: float, x: FloatArray) -> None:
        """Anneal from ``v0`` to ``v1`` over the steps ``x`` of one phase (torch's formulas), in place."""
        x -= begin
        x /= end - begin  # pct
        if self.anneal == "cos":  # v1 + (v0 - v1) / 2 * (cos(pi pct) + 1)
            x *= math.pi
            np.cos(x, out=x)
            x += 1
            x *= (v0 - v1) / 2.0
            x += v1
        else:  # (v1 - v0) * pct + v0
            x *= v1 - v0
            x += v0


@dataclass(frozen=True)
class CosineCycles(Schedule):
    """Cosine cycles from ``start`` to ``end`` with timm's options (``CosineLRScheduler`` without warmup).

    Cycle ``i`` lasts ``cycle_steps * cycle_mult**i`` events and peaks at ``start *
    cycle_decay**i``; after ``cycle_limit`` cycles the value stays at ``end``. ``k`` is the
    k-decay exponent: the phase is ``t_cur**k / t_i**k`` (``k=1`` is the plain cosine). timm finds
    the cycle with a floored logarithm; here the cycle is then checked against its start and end,
    so an event exactly at a cycle boundary is never placed in the previous cycle by rounding.

    Examples:
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

    _growth = ("cycle_decay", "start")

    def __post_init__(self) -> None:
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "cycle_steps", check_duration("cycle_steps", self.cycle_steps, minimum=1))
        mult = check_float("cycle_mult", self.cycle_mult, positive=True)
        if mult < 1.0:
            raise ValueError(f"`cycle_mult` must be >= 1, got {self.cycle_mult!r}")
        set_field(self, "cycle_mult", mult)
        set_field(self, "cycle_decay", check_float("cycle_decay", self.cycle_decay, positive=True))
        set_field(self, "cycle_limit", check_int("cycle_limit", self.cycle_limit, minimum=1))
        set_field(self, "k", check_float("k", self.k, positive=True))

    def _start_of(self, i: FloatArray) -> FloatArray:
        """The first event of cycle ``i`` (timm's arithmetic)."""
        m, c = self.cycle_mult, int(self.cycle_steps)
        out: FloatArray = (1 - np.power(m, i)) / (1 - m) * c
        return out

    def _values(self, ts: FloatArray) -> FloatArray:
        m, c = self.cycle_mult, int(self.cycle_steps)
        t = np.minimum(np.maximum(ts, 0.0), MAX_EVENTS)
        with np.errstate(over="ignore", invalid="ignore"):
            if m == 1.0:
                i = floor_div(t, c)
                t_i = np.full(t.shape, float(c))
                t_cur = t - c * i
            else:
                i = np.floor(np.log(1 - t / c * (1 - m)) / math.log(m))
                i = np.where(self._start_of(i + 1) <= t, i + 1, i)
                i = np.where(self._start_of(i) > t, i - 1, i)
                t_i = np.power(m, i) * c
                t_cur = t - self._start_of(i)
            peak = self.start * np.power(self.cycle_decay, np.minimum(i, self.cycle_limit))
            # timm writes t_cur**k / t_i**k; the ratio's power is the same number and cannot overflow.
            curve = self.end + 0.5 * (peak - self.end) * (1 + np.cos(math.pi * np.power(t_cur / t_i, self.k)))
        out: FloatArray = np.where(i >= self.cycle_limit, self.end, curve)
        return out


ANNEAL_SHAPES = ("cosine", "linear", "linear_monotonic")


@dataclass(frozen=True, repr=False)
class CyclicalAnneal(Schedule):
    """ignite's cyclical schedules (``CosineAnnealingScheduler``, ``LinearCyclicalScheduler``).

    Cycle ``k`` lasts ``cycle_size_k`` events plus a warmup of ``warmup_duration_k`` events back to
    the start value; both are multiplied by ``cycle_mult`` and truncated to ints after each cycle,
    exactly as ignite does. Cycle ``k`` runs from ``start_value * start_value_mult**k`` to
    ``end_value * end_value_mult**k`` (the start value is multiplied when a cycle reaches its end
    value, as in ignite); ignite multiplies once per cycle, this takes the power, so the two agree
    to a few ulps per cycle. ``shape`` is ``"cosine"``, ``"linear"`` (down and back up within a
    cycle) or ``"linear_monotonic"``.

    Cost: with ``cycle_mult == 1`` every event is closed form. With growing cycles the cycle
    starts are kept in a table of one row per cycle up to the latest event asked for (a few
    hundred rows for ``cycle_mult >= 1.05`` up to 10**12 events); once truncation stops the growth
    the cycles are periodic again. A multiplier above 1 whose value overflows float64 raises a
    ``ValueError`` naming it at the first event that overflows.

    Examples:
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
    # Growing cycles: begins, sizes and warmups of the cycles met so far (see _cycles).
    _table: dict[str, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.shape not in ANNEAL_SHAPES:
            raise ValueError(f"`shape` must be one of {ANNEAL_SHAPES}, got {self.shape!r}")
        for name in ("start_value", "end_value"):
            set_field(self, name, check_float(name, getattr(self, name)))
        for name in ("start_value_mult", "end_value_mult"):
            set_field(self, name, check_float(name, getattr(self, name), positive=True))
        set_field(self, "cycle_size", check_duration("cycle_size", self.cycle_size, minimum=2))
        mult = check_float("cycle_mult", self.cycle_mult, positive=True)
        if mult < 1.0:
            raise ValueError(f"`cycle_mult` must be >= 1 (cycles never shrink), got {self.cycle_mult!r}")
        set_field(self, "cycle_mult", mult)
        set_field(self, "warmup_duration", check_duration("warmup_duration", self.warmup_duration, minimum=0))
        if self.shape == "linear" and self.warmup_duration != 0:
            raise ValueError(
                f"`warmup_duration` > 0 needs `monotonic=True` for the linear cyclical schedule, "
                f"got warmup_duration={self.warmup_duration!r}"
            )
        set_field(self, "_table", {})

    def __repr__(self) -> str:
        names: tuple[str, ...] = ("shape", "start_value", "end_value", "cycle_size", "cycle_mult")
        names += ("start_value_mult", "end_value_mult", "warmup_duration")
        return "CyclicalAnneal(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_table"] = {}  # a cache: rebuilt on demand
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def overflow_error(self, t: int, got: float) -> ValueError:
        grown = [n for n in ("start_value_mult", "end_value_mult") if getattr(self, n) > 1.0]
        given = ", ".join(f"`{n}`={getattr(self, n)!r}" for n in grown or ("start_value", "end_value"))
        return ValueError(
            f"{self!r} gives {got!r} at event {t}: {given} makes the cycle values overflow float64 there; "
            "use a multiplier closer to 1 or stop the schedule earlier"
        )

    def _grow_table(self, top: float) -> dict[str, Any]:
        """Cycle rows (ignite's truncated growth) until the cycle holding event ``top``, or a fixed point."""
        table = self._table
        if not table:
            table.update(begins=[0], sizes=[int(self.cycle_size)], warmups=[int(self.warmup_duration)], fixed=False)
            table["arrays"] = None
        begins, sizes, warmups = table["begins"], table["sizes"], table["warmups"]
        grew = False
        while not table["fixed"] and begins[-1] + sizes[-1] + warmups[-1] <= top:
            # ignite's truncated growth; a cycle longer than 2**53 events lasts past every event there is.
            size = int(min(sizes[-1] * self.cycle_mult, MAX_EVENTS))
            warmup = int(min(warmups[-1] * self.cycle_mult, MAX_EVENTS))
            if size == sizes[-1] and warmup == warmups[-1]:
                table["fixed"] = True  # truncation stopped the growth: periodic from the last row
                break
            begins.append(begins[-1] + sizes[-1] + warmups[-1])
            sizes.append(size)
            warmups.append(warmup)
            grew = True
        if grew or table["arrays"] is None:
            table["arrays"] = tuple(np.asarray(x, dtype=np.float64) for x in (begins, sizes, warmups))
        return table

    def _cycles(self, t: FloatArray) -> tuple[FloatArray | None, FloatArray, Any, Any]:
        """Per event: the cycle index, the position in the cycle, the cycle's size and its warmup.

        The index is ``None`` where no multiplier needs it; the position is in ``t``'s memory,
        which the caller gives up.
        """
        size0, warmup0 = int(self.cycle_size), int(self.warmup_duration)
        periodic = self.cycle_mult == 1.0 or (
            int(min(size0 * self.cycle_mult, MAX_EVENTS)) == size0
            and int(min(warmup0 * self.cycle_mult, MAX_EVENTS)) == warmup0
        )
        if periodic:
            period = size0 + warmup0
            if self.start_value_mult == 1.0 and self.end_value_mult == 1.0:
                return None, floor_mod(t, period, out=t), float(size0), float(warmup0)
            k = floor_div(t, period)
            return k, np.subtract(t, k * period, out=t), float(size0), float(warmup0)
        table = self._grow_table(float(t.max()) if t.size else 0.0)
        begins, sizes, warmups = table["arrays"]
        row = np.searchsorted(begins, t, side="right") - 1
        k, begin = row.astype(np.float64), begins[row]
        if table["fixed"]:  # past the last row the last cycle repeats
            period = sizes[-1] + warmups[-1]
            extra = np.where(row == len(begins) - 1, floor_div(t - begins[-1], period), 0.0)
            k, begin = k + extra, begin + extra * period
        return k, np.subtract(t, begin, out=t), sizes[row], warmups[row]

    @one_as_two
    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        t = np.maximum(ts, 0.0, out=out)
        np.minimum(t, MAX_EVENTS, out=t)
        k, e, size, warmup = self._cycles(t)
        with np.errstate(over="ignore", invalid="ignore"):  # values() reports an overflow by name
            # Without multipliers the values are the arguments (no power of 1.0 per event, no k).
            svm, evm = self.start_value_mult, self.end_value_mult
            s_before: Any = self.start_value
            end: Any = self.end_value
            if k is not None:
                s_before = self.start_value * np.power(svm, k) if svm != 1.0 else s_before
                end = self.end_value * np.power(evm, k) if evm != 1.0 else end
            s_after = s_before * svm
            start = s_before if svm == 1.0 else np.where(e < size, s_before, s_after)
            warm, in_warmup = None, None
            if not (np.ndim(warmup) == 0 and warmup == 0):  # else e never passes the cycle size
                warm = end + (s_after - end) * ((e - size) / np.maximum(warmup, 1.0))
                in_warmup = e > size
            # The curve, in place over e: each temporary of a simulation is megabytes of fresh memory.
            x = e
            x /= size  # progress
            if self.shape == "cosine":  # start + (end - start) / 2 * (1 - cos(pi progress))
                x *= math.pi
                np.cos(x, out=x)
                np.subtract(1, x, out=x)
                x *= (end - start) / 2
                x += start
            elif self.shape == "linear_monotonic":  # start + (end - start) * progress
                x *= end - start
                x += start
            else:  # end + (start - end) * |progress - 0.5| * 2
                x -= 0.5
                np.abs(x, out=x)
                x *= start - end
                x *= 2
                x += end
            if warm is not None:
                np.copyto(x, warm, where=in_warmup)
