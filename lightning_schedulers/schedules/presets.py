"""Presets: functions that return pure schedules (or phases) for the schedules people reach for.

Nothing here imports torch or Lightning; every preset is a composition of
:mod:`lightning_schedulers.schedules`, so it pickles, prints and previews like any schedule.

Examples:
    >>> from lightning_schedulers.presets import warmup_cosine
    >>> s = warmup_cosine(peak=1.0, total_steps=100, warmup_steps=10, floor=0.1)
    >>> s.value(0), s.value(10), s.value(100)
    (0.0, 1.0, 0.1)
"""

from __future__ import annotations

import math

from lightning_schedulers._validation import (
    MAX_EVENTS,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_sequence,
)
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Shift, deferrable, sequence
from lightning_schedulers.schedules.durations import Duration
from lightning_schedulers.schedules.phases import Phase, cosinespace, linspace
from lightning_schedulers.schedules.references import CosineCycles
from lightning_schedulers.schedules.shapes import Constant, Cosine, InverseSqrt, Linear, Polynomial, PowerRamp

__all__ = [
    "cosine_cycles",
    "noam",
    "one_cycle_phases",
    "polynomial_decay",
    "sgdr_phases",
    "warmup_cosine",
    "warmup_stable_decay",
]

DECAY_SHAPES = ("linear", "cosine", "1-sqrt")
MAX_PHASES = 100_000
"""The most phases a preset returns as a list (one Python object each)."""


def _with_warmup(start: float, peak: float, warmup_steps: Duration, rest: Schedule) -> Schedule:
    if warmup_steps == 0:
        return rest
    return sequence([Linear(start, peak, warmup_steps), rest], durations=[warmup_steps])


@deferrable("total_steps", "warmup_steps")
def warmup_cosine(
    peak: float, total_steps: Duration, warmup_steps: Duration = 0, start: float = 0.0, floor: float = 0.0
) -> Schedule:
    """Linear warmup from ``start`` to ``peak``, then a cosine decay to ``floor`` at ``total_steps``.

    Examples:
        >>> s = warmup_cosine(peak=1.0, total_steps=20, warmup_steps=4)
        >>> [round(s.value(t), 12) for t in (2, 4, 12, 20)]
        [0.5, 1.0, 0.5, 0.0]
    """
    total = check_int("total_steps", total_steps, minimum=1)
    warmup = check_int("warmup_steps", warmup_steps, minimum=0)
    peak, start, floor = (check_float(n, v) for n, v in (("peak", peak), ("start", start), ("floor", floor)))
    if warmup >= total:
        raise ValueError(f"`warmup_steps` must be < `total_steps`, got warmup_steps={warmup}, total_steps={total}")
    return _with_warmup(start, peak, warmup, Cosine(peak, floor, total - warmup))


@deferrable("total_steps", "warmup_steps", "decay_steps")
def warmup_stable_decay(
    peak: float,
    total_steps: Duration,
    warmup_steps: Duration,
    decay_steps: Duration,
    decay: str = "linear",
    start: float = 0.0,
    floor: float = 0.0,
) -> Schedule:
    """Warmup-stable-decay (WSD): warm up, hold ``peak``, then cool down to ``floor`` in ``decay_steps``.

    The cooldown ends at ``total_steps``; its shape is ``"linear"``, ``"cosine"`` or ``"1-sqrt"``
    (``floor + (peak - floor) * (1 - sqrt(t / decay_steps))``).

    Examples:
        >>> s = warmup_stable_decay(1.0, total_steps=20, warmup_steps=2, decay_steps=4, decay="1-sqrt")
        >>> [s.value(t) for t in (0, 2, 15, 16, 17, 20)]
        [0.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    total = check_int("total_steps", total_steps, minimum=1)
    warmup = check_int("warmup_steps", warmup_steps, minimum=0)
    cooldown = check_int("decay_steps", decay_steps, minimum=1)
    shape = check_choice("decay", decay, DECAY_SHAPES)
    peak, start, floor = (check_float(n, v) for n, v in (("peak", peak), ("start", start), ("floor", floor)))
    stable = total - warmup - cooldown
    if stable < 0:
        raise ValueError(
            f"`warmup_steps` + `decay_steps` must be <= `total_steps`, got {warmup} + {cooldown} > {total}"
        )
    tail: Schedule
    if shape == "linear":
        tail = Linear(peak, floor, cooldown)
    elif shape == "cosine":
        tail = Cosine(peak, floor, cooldown)
    else:
        tail = PowerRamp(peak, floor, cooldown, power=0.5)
    body = tail if stable == 0 else sequence([Constant(peak), tail], durations=[stable])
    return _with_warmup(start, peak, warmup, body)


def noam(model_size: int, warmup_steps: Duration, factor: float = 1.0) -> Schedule:
    """The Transformer's inverse-square-root schedule: ``factor * model_size**-0.5 * min(s**-0.5, s * warmup**-1.5)``.

    ``s = t + 1``: a linear warmup over ``warmup_steps``, then decay as ``1 / sqrt(s)``.

    Examples:
        >>> round(noam(512, warmup_steps=4000).value(3999), 8)
        0.00069877
    """
    size = check_int("model_size", model_size, minimum=1)
    return InverseSqrt(check_float("factor", factor) * size**-0.5, warmup_steps)


@deferrable("steps", "warmup_steps")
def polynomial_decay(
    start: float, end: float, steps: Duration, power: float = 1.0, warmup_steps: Duration = 0
) -> Schedule:
    """Polynomial decay from ``start`` to ``end`` over ``steps`` after an optional linear warmup from 0.

    Examples:
        >>> polynomial_decay(1.0, 0.1, steps=10, power=2.0).value(5)
        0.325
    """
    warmup = check_int("warmup_steps", warmup_steps, minimum=0)
    return _with_warmup(0.0, start, warmup, Polynomial(start, end, steps, power))


@deferrable("cycle_steps", "warmup_steps")
def cosine_cycles(
    peak: float,
    floor: float,
    cycle_steps: Duration,
    cycle_mult: float = 1.0,
    cycle_decay: float = 1.0,
    cycle_limit: int = 1,
    k_decay: float = 1.0,
    warmup_steps: Duration = 0,
    warmup_start: float = 0.0,
    warmup_prefix: bool = False,
) -> Schedule:
    """timm-style cosine: cycles (``cycle_mult``, ``cycle_decay``, ``cycle_limit``), k-decay and a warmup.

    The warmup rises linearly from ``warmup_start`` towards ``peak`` over ``warmup_steps``. As in
    timm, with ``warmup_prefix=False`` (timm's default) the cycles count from step 0, so the
    warmup covers their first steps; with ``warmup_prefix=True`` they start after it.

    Examples:
        >>> s = cosine_cycles(1.0, 0.0, cycle_steps=4, cycle_limit=2, cycle_decay=0.5, warmup_steps=2,
        ...                   warmup_prefix=True)
        >>> [round(s.value(t), 3) for t in (0, 1, 2, 6, 10)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
        >>> s = cosine_cycles(1.0, 0.0, cycle_steps=4, warmup_steps=2)  # timm's default
        >>> [round(s.value(t), 3) for t in (0, 1, 2, 3)]
        [0.0, 0.5, 0.5, 0.146]
    """
    peak, floor = check_float("peak", peak), check_float("floor", floor)
    k_decay = check_float("k_decay", k_decay, positive=True)
    warmup = check_int("warmup_steps", warmup_steps, minimum=0)
    prefix = check_bool("warmup_prefix", warmup_prefix)
    body: Schedule = CosineCycles(peak, floor, cycle_steps, cycle_mult, cycle_decay, cycle_limit, k_decay)
    if not prefix and warmup:
        body = Shift(body, warmup)  # the warmup's steps count towards the cycles: global time after it
    return _with_warmup(warmup_start, peak, warmup, body)


def sgdr_phases(
    base_cycle_length: int, cycles: int, lr: tuple[float, float] = (1.0, 0.1), cycle_mult: int = 2
) -> list[Phase]:
    """Poutyne's SGDR phases: ``cycles`` cosine spaces from ``lr[0]`` to ``lr[1]``, each ``cycle_mult`` times longer.

    Examples:
        >>> [p.steps for p in sgdr_phases(base_cycle_length=4, cycles=3)]
        [4, 8, 16]
    """
    base = check_int("base_cycle_length", base_cycle_length, minimum=1)
    count = check_int("cycles", cycles, minimum=1)
    mult = check_int("cycle_mult", cycle_mult, minimum=1)
    start, end = _pair("lr", lr)
    if count > MAX_PHASES or math.log(base) + (count - 1) * math.log(mult) > math.log(MAX_EVENTS):
        raise ValueError(
            f"`cycles`={count} cycles of `base_cycle_length`={base} steps growing by `cycle_mult`={mult} are more "
            f"than this list of phases can hold (at most {MAX_PHASES} phases and 2**53 steps)"
        )
    return [Phase(lr=cosinespace(start, end, base * mult**i)) for i in range(count)]


def one_cycle_phases(
    steps: Duration,
    lr: tuple[float, float] = (0.1, 1),
    momentum: tuple[float, float] = (0.95, 0.85),
    finetune_lr: float = 0.01,
    finetune_fraction: float = 0.1,
) -> list[Phase]:
    """Poutyne's one-cycle phases: lr up and down with momentum inverse, then a fine-tuning phase.

    The phase lengths are poutyne's (``int(steps * finetune_fraction)`` fine-tuning steps, the rest
    split up/down). A phase of one step holds its start value instead of poutyne's division by
    zero (10 to 19 steps), and a phase of zero steps is left out.

    Examples:
        >>> [p.steps for p in one_cycle_phases(15)]
        [7, 7, 1]
    """
    total = check_int("steps", steps, minimum=1)
    fraction = check_float("finetune_fraction", finetune_fraction)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"`finetune_fraction` must be in [0, 1), got {finetune_fraction!r}")
    annealing = int(total * fraction)
    up = (total - annealing) // 2
    down = total - annealing - up
    lr_low, lr_high = _pair("lr", lr)
    mom_high, mom_low = _pair("momentum", momentum)
    finetune = check_float("finetune_lr", finetune_lr)
    pieces = [
        (up, (lr_low, lr_high), (mom_high, mom_low)),
        (down, (lr_high, lr_low), (mom_low, mom_high)),
        (annealing, (lr_low, finetune), (mom_high, mom_high)),
    ]
    return [
        Phase(lr=linspace(*lrs, steps), momentum=linspace(*moms, steps)) for steps, lrs, moms in pieces if steps > 0
    ]


def _pair(name: str, value: object) -> tuple[float, float]:
    """A ``(first, second)`` pair of finite floats."""
    items = check_sequence(name, value)
    if len(items) != 2:
        raise ValueError(f"`{name}` must be a pair of values, got {value!r}")
    return check_float(f"{name}[0]", items[0]), check_float(f"{name}[1]", items[1])
