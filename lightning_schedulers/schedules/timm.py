"""timm's learning-rate schedules (``timm.scheduler``) as pure, absolute schedules of one param group.

Each value is the lr that timm's scheduler writes for a param group whose initial lr is ``base``,
as timm's training loop drives it: the constructor writes the first value (``warmup_lr_init`` with
a warmup, else ``base``), then ``step(t)`` (or ``step_update(t)``) writes ``_get_lr(t)`` before
epoch (or update) ``t`` trains, from ``t = 1`` on. So event 0 holds the constructor's value and
event ``t >= 1`` holds ``_get_lr(t)``. timm's noise needs torch's random generator; it lives in
:mod:`lightning_schedulers.families.timm`, outside this torch-free layer, and so do the reductions of
``PlateauLRScheduler`` (they depend on metrics): :class:`TimmPlateauWarmup` is its lr before any.

The arithmetic follows timm's (``timm/scheduler/*_lr.py``), vectorised; values agree with timm to
the package's parity bound (1e-12 relative). The cycle index of ``cycle_mul != 1`` is timm's
floored logarithm, quirks included: where timm's ``math.log`` rounds an exact cycle boundary
below the integer, the event stays at the end of the previous cycle here too (the logarithm is
recomputed with :mod:`math` next to integers, so this does not depend on numpy's SIMD kernels).

Examples:
    >>> from lightning_schedulers.schedules.timm import TimmCycles
    >>> s = TimmCycles("cosine", base=1.0, t_initial=4, warmup_t=2, warmup_lr_init=0.1, warmup_prefix=True)
    >>> s.values(range(8)).round(4).tolist()
    [0.1, 0.55, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int, check_int_sequence
from lightning_schedulers.schedules.base import FloatArray, Schedule, floor_div, set_field

__all__ = ["CYCLE_KINDS", "TimmCycles", "TimmPlateauWarmup", "TimmStep", "cycle_length"]

CYCLE_KINDS = ("cosine", "tanh", "poly")
"""The cyclic schedules: ``CosineLRScheduler``, ``TanhLRScheduler``, ``PolyLRScheduler``."""


def cycle_length(
    t_initial: int, cycle_mul: float, cycle_limit: int, warmup_t: int, warmup_prefix: bool, cycles: int = 0
) -> int:
    """The events of ``cycles`` cycles (``cycle_limit`` when 0).

    Examples:
        >>> cycle_length(10, 2.0, 3, warmup_t=5, warmup_prefix=True)
        75
    """
    count = max(1, cycles or cycle_limit)
    grown = math.floor(-t_initial * (cycle_mul**count - 1) / (1 - cycle_mul)) if cycle_mul != 1.0 else 0
    t = t_initial * count if cycle_mul == 1.0 else grown
    return t + warmup_t if warmup_prefix else t


def _check_warmup(obj: Schedule) -> None:
    set_field(obj, "warmup_t", check_int("warmup_t", obj.warmup_t, minimum=0))  # type: ignore[attr-defined]
    set_field(obj, "warmup_lr_init", check_float("warmup_lr_init", obj.warmup_lr_init, non_negative=True))  # type: ignore[attr-defined]
    check_bool("warmup_prefix", obj.warmup_prefix)  # type: ignore[attr-defined]


def _with_warmup(
    ts: FloatArray, main: FloatArray, base: float, target: float, warmup_t: int, init: float
) -> FloatArray:
    """The linear warmup (timm's) from ``init`` towards ``target``, and the constructor's value at event 0."""
    t = np.maximum(ts, 0.0)
    if warmup_t:
        step = (target - init) / warmup_t  # timm's warmup_steps entry of this group
        main = np.where(t < warmup_t, init + t * step, main)
    out: FloatArray = np.where(t <= 0.0, init if warmup_t else base, main)
    return out


@dataclass(frozen=True)
class TimmCycles(Schedule):
    """timm's ``CosineLRScheduler``, ``TanhLRScheduler`` or ``PolyLRScheduler`` lr of one param group.

    Args:
        kind: ``"cosine"``, ``"tanh"`` or ``"poly"``.
        base: the group's initial lr (timm's ``base_values`` entry).
        t_initial: the first cycle's length.
        lr_min: the floor (absolute, the same for every group, as in timm).
        cycle_mul: each cycle is this many times longer than the previous (>= 1).
        cycle_decay: each cycle peaks at this factor of the previous peak.
        cycle_limit: cycles before the lr stays at ``lr_min``.
        warmup_t: warmup length; the warmup rises linearly from ``warmup_lr_init``.
        warmup_lr_init: the warmup's first lr (absolute).
        warmup_prefix: the cycles start after the warmup (else they count from event 0).
        k_decay: k-decay exponent (``cosine`` and ``poly``).
        power: ``poly``'s exponent.
        lb: ``tanh``'s lower bound.
        ub: ``tanh``'s upper bound.

    Examples:
        >>> s = TimmCycles("poly", base=1.0, t_initial=4, power=1.0, cycle_limit=2, cycle_decay=0.5)
        >>> s.values(range(10)).tolist()
        [1.0, 0.75, 0.5, 0.25, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0]
    """

    kind: str
    base: float
    t_initial: int
    lr_min: float = 0.0
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1
    warmup_t: int = 0
    warmup_lr_init: float = 0.0
    warmup_prefix: bool = False
    k_decay: float = 1.0
    power: float = 0.5
    lb: float = -7.0
    ub: float = 3.0

    _growth = ("cycle_decay", "base")

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, CYCLE_KINDS)
        set_field(self, "base", check_float("base", self.base))
        set_field(self, "t_initial", check_int("t_initial", self.t_initial, minimum=1))
        set_field(self, "lr_min", check_float("lr_min", self.lr_min, non_negative=True))
        mul = check_float("cycle_mul", self.cycle_mul)
        if mul < 1.0:
            raise ValueError(
                f"`cycle_mul` must be >= 1, got {self.cycle_mul!r} (timm takes the log of "
                "1 - t / t_initial * (1 - cycle_mul), which turns negative for cycle_mul < 1)"
            )
        set_field(self, "cycle_mul", mul)
        set_field(self, "cycle_decay", check_float("cycle_decay", self.cycle_decay, positive=True))
        set_field(self, "cycle_limit", check_int("cycle_limit", self.cycle_limit, minimum=0))
        _check_warmup(self)
        set_field(self, "k_decay", check_float("k_decay", self.k_decay, positive=True))
        set_field(self, "power", check_float("power", self.power, positive=True))
        set_field(self, "lb", check_float("lb", self.lb))
        set_field(self, "ub", check_float("ub", self.ub))
        if not self.lb < self.ub:
            raise ValueError(f"`lb` must be < `ub`, got lb={self.lb!r}, ub={self.ub!r}")

    def _cycle(self, u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The cycle index ``i``, cycle length ``t_i`` and position ``t_curr`` at (shifted) time ``u``."""
        m, c = self.cycle_mul, float(self.t_initial)
        if m == 1.0:
            i = floor_div(u, self.t_initial)
            return i, np.full(u.shape, c), u - c * i
        x = 1 - u / c * (1 - m)
        q = np.log(x) / math.log(m)
        # Next to an integer the floor depends on the last bit of the logarithm: take timm's
        # (CPython's math.log) there, so that the cycle index is timm's on every CPU.
        near = np.abs(q - np.round(q)) < 1e-9 * np.maximum(1.0, np.abs(q))
        if near.any():
            q = q.copy()
            q[near] = [math.log(v, m) for v in x[near].tolist()]
        i = np.floor(q)
        grown = np.power(m, i)
        return i, grown * c, u - (1 - grown) / (1 - m) * c

    def _main(self, ts: FloatArray) -> FloatArray:
        """The value past the warmup (timm's ``_get_lr(t)``)."""
        u = np.maximum(ts - self.warmup_t, 0.0) if self.warmup_prefix else ts
        with np.errstate(over="ignore", invalid="ignore"):
            i, t_i, t_curr = self._cycle(u)
            t_curr = np.maximum(t_curr, 0.0)
            peak = self.base * np.power(self.cycle_decay, np.minimum(i, self.cycle_limit))
            span = peak - self.lr_min
            if self.kind == "tanh":
                tr = t_curr / t_i
                curve = self.lr_min + 0.5 * span * (1 - np.tanh(self.lb * (1.0 - tr) + self.ub * tr))
            else:
                k = self.k_decay
                ratio = np.power(t_curr, k) / np.power(t_i, k) if k != 1.0 else t_curr / t_i
                if self.kind == "cosine":
                    # timm's 0.5 * (1 + cos(pi r)) as cos(pi r / 2)**2: full precision near the floor.
                    curve = self.lr_min + span * np.cos(0.5 * math.pi * ratio) ** 2
                else:
                    curve = self.lr_min + span * np.maximum(1.0 - ratio, 0.0) ** self.power
        out: FloatArray = np.where(i < self.cycle_limit, curve, self.lr_min)
        return out

    def _values(self, ts: FloatArray) -> FloatArray:
        t = np.maximum(ts, 0.0)
        target = self.base
        if self.kind == "tanh" and self.warmup_t and not self.warmup_prefix:
            # timm's TanhLRScheduler warms up towards its curve's value at warmup_t.
            target = float(self._main(np.array([float(self.warmup_t)]))[0])
        return _with_warmup(t, self._main(t), self.base, target, self.warmup_t, self.warmup_lr_init)

    def cycle_length(self, cycles: int = 0) -> int:
        """The events of ``cycles`` cycles: timm's ``get_cycle_length(cycles)``."""
        return cycle_length(self.t_initial, self.cycle_mul, self.cycle_limit, self.warmup_t, self.warmup_prefix, cycles)


@dataclass(frozen=True)
class TimmStep(Schedule):
    """timm's ``StepLRScheduler`` (``decay_t`` a number) or ``MultiStepLRScheduler`` (a tuple) lr of one group.

    ``StepLRScheduler`` decays by ``decay_rate`` every ``decay_t`` events (``t // decay_t``, a
    float ``decay_t`` allowed as in timm). ``MultiStepLRScheduler`` follows timm's milestone
    convention: milestone ``m`` applies from event ``m - 1`` on (``bisect_right(decay_t, t + 1)``),
    after the warmup when ``warmup_prefix`` (timm's default for both).

    Examples:
        >>> TimmStep(base=1.0, decay_t=(3, 5), decay_rate=0.5).values(range(7)).tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]
        >>> TimmStep(base=1.0, decay_t=2.0, decay_rate=0.5).values(range(5)).tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    base: float
    decay_t: float | tuple[int, ...]
    decay_rate: float = 1.0
    warmup_t: int = 0
    warmup_lr_init: float = 0.0
    warmup_prefix: bool = True

    _growth = ("decay_rate", "base")

    def __post_init__(self) -> None:
        set_field(self, "base", check_float("base", self.base))
        if isinstance(self.decay_t, (list, tuple)):
            set_field(self, "decay_t", check_int_sequence("decay_t", self.decay_t, strictly_increasing=False))
        else:
            set_field(self, "decay_t", check_float("decay_t", self.decay_t, positive=True))
        set_field(self, "decay_rate", check_float("decay_rate", self.decay_rate, positive=True))
        _check_warmup(self)

    def _values(self, ts: FloatArray) -> FloatArray:
        t = np.maximum(ts, 0.0)
        u = np.maximum(t - self.warmup_t, 0.0) if self.warmup_prefix else t
        if isinstance(self.decay_t, tuple):
            count = np.searchsorted(np.asarray(self.decay_t, dtype=np.float64), u + 1.0, side="right")
        else:
            count = np.floor_divide(u, self.decay_t)  # Python's float //, as timm's t // decay_t
        with np.errstate(over="ignore"):
            main = self.base * np.power(self.decay_rate, count.astype(np.float64))
        return _with_warmup(t, main, self.base, self.base, self.warmup_t, self.warmup_lr_init)


@dataclass(frozen=True)
class TimmPlateauWarmup(Schedule):
    """timm's ``PlateauLRScheduler`` lr of one param group before any reduction: its warmup, then where it ended.

    timm's ``step(t)`` writes ``warmup_lr_init + t * (base - warmup_lr_init) / warmup_t`` while
    ``t <= warmup_t`` (its constructor writes the value of ``t = 0``), and from then on steps
    torch's ``ReduceLROnPlateau`` on whatever lr the warmup left: the value of ``warmup_t``, which
    is ``base`` up to rounding, or ``base`` itself without a warmup. The reductions and the noise
    are the callback's (:class:`lightning_schedulers.families.timm.PlateauLRScheduler`).

    Args:
        base: the group's initial lr (timm's ``base_values`` entry).
        warmup_t: the warmup's length; 0: none.
        warmup_lr_init: the warmup's first lr (absolute, the same for every group).

    Examples:
        >>> TimmPlateauWarmup(base=1.0, warmup_t=4, warmup_lr_init=0.2).values(range(7)).round(6).tolist()
        [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0]
    """

    base: float
    warmup_t: int = 0
    warmup_lr_init: float = 0.0

    _growth = ("base", "warmup_lr_init")

    def __post_init__(self) -> None:
        set_field(self, "base", check_float("base", self.base))
        set_field(self, "warmup_t", check_int("warmup_t", self.warmup_t, minimum=0))
        set_field(self, "warmup_lr_init", check_float("warmup_lr_init", self.warmup_lr_init, non_negative=True))

    def _values(self, ts: FloatArray) -> FloatArray:
        if not self.warmup_t:
            return np.full(ts.shape, self.base, dtype=np.float64)
        init = self.warmup_lr_init
        step = (self.base - init) / self.warmup_t  # timm's warmup_steps entry of this group
        # timm's init + t * step, the same two roundings; held from warmup_t on.
        out: FloatArray = init + np.clip(ts, 0.0, float(self.warmup_t)) * step
        return out
