"""Bindings: a target and the schedules that feed it, and their live, block-evaluated form during a fit.

A :class:`Binding` is configuration (picklable, no torch objects). When a fit starts, the run
(:mod:`lightning_schedulers.engine.run`) turns each into an :class:`Active`: the bound target, the
resolved schedules, and a block of precomputed values that the hot path reads a row of per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Scale
from lightning_schedulers.targets import Attribute, BoundParamGroups, BoundTarget, ParamGroup, Target, check_key

__all__ = ["BLOCK", "WIDE", "Active", "Binding", "make_binding", "with_factors"]


@dataclass(frozen=True)
class Binding:
    """One target and how its values are computed.

    Either a single schedule for every slot (param group), one schedule per slot (``per_slot``), or
    a ``builder`` that turns the base values captured at the start of the fit (one per slot) into
    one schedule per slot (torch's schedulers that start from each group's initial lr).

    Attributes:
        target: where the values go.
        schedules: the schedule(s), unless ``builder`` is given.
        per_slot: ``schedules`` holds one schedule per slot.
        builder: ``bases -> schedules``; must return one schedule per base value.
        slots: the slot count that per-group arguments imply, for :meth:`preview_bases`.
    """

    target: Target
    schedules: tuple[Schedule, ...] = ()
    per_slot: bool = False
    builder: Callable[[list[float]], list[Schedule]] | None = field(default=None, compare=False)
    slots: int | None = None

    @property
    def needs_bases(self) -> bool:
        """Whether the captured start values enter the computation (and the checkpoint)."""
        return self.builder is not None or self.target.relative

    def resolve(self, bases: list[float]) -> tuple[list[Schedule], list[float] | None]:
        """Schedules for each slot, and the per-slot scale of a relative target (else ``None``)."""
        if self.builder is not None:
            return list(self.builder(list(bases))), None
        if self.per_slot:
            if len(self.schedules) != len(bases):
                slots = "param group(s)" if isinstance(self.target, ParamGroup) else "match(es)"
                raise ValueError(
                    f"{self.target.describe()} has {len(bases)} {slots} but {len(self.schedules)} "
                    "schedules were given; give one per group or a single schedule"
                )
            schedules = list(self.schedules)
        else:
            schedules = [self.schedules[0]] * len(bases)
        return schedules, (list(bases) if self.target.relative else None)

    def preview_bases(self, initial: float | list[float]) -> list[float]:
        """The base values :meth:`SchedulerCallback.simulate` uses for ``initial``."""
        # One column for one param group or attribute; a pattern's matches are not known before the fit.
        single = isinstance(self.target, Attribute) or self.target.param_group_index is not None
        if isinstance(initial, list):
            if self.per_slot and len(initial) != len(self.schedules):
                raise ValueError(
                    f"`initial` has {len(initial)} values but {self.target.describe()} has "
                    f"{len(self.schedules)} schedules"
                )
            return initial[:1] if single else initial
        count = 1 if single else self.slots or (len(self.schedules) if self.per_slot else 1)
        return [initial] * count


def _as_target(spec: Any, argument: str) -> Target:
    if isinstance(spec, (ParamGroup, Attribute)):
        return spec
    if isinstance(spec, str):
        return ParamGroup(check_key(argument, spec))
    raise TypeError(
        f"`{argument}` must name targets as a param-group key (str), ParamGroup or Attribute, "
        f"got {spec!r} ({type(spec).__name__})"
    )


def make_binding(target: Any, spec: Any, argument: str = "target") -> Binding:
    """Normalise ``target -> schedule`` or ``target -> [schedule per param group]``."""
    tgt = _as_target(target, argument)
    if isinstance(spec, Schedule):
        return Binding(tgt, (spec,), per_slot=False)
    if isinstance(spec, Sequence) and not isinstance(spec, str) and spec:
        items = tuple(spec)
        for i, item in enumerate(items):
            if not isinstance(item, Schedule):
                raise TypeError(f"schedule {i} for {tgt.describe()} must be a Schedule, got {item!r}")
        if isinstance(tgt, Attribute) and len(items) != 1:
            what = "holds one value"
            if tgt.is_pattern:
                what = "takes one schedule for all its matches (scale them with scale=...)"
            raise ValueError(f"{tgt.describe()} {what}; got {len(items)} schedules for it")
        return Binding(tgt, items, per_slot=True)
    raise TypeError(
        f"the schedule for {tgt.describe()} must be a Schedule or a non-empty list of Schedules "
        f"(one per param group), got {spec!r}"
    )


BLOCK = 4096
"""Events evaluated at once, with numpy, by a vectorisable binding.

A refill costs about 0.1 ms warm and several times that in a fit, where numpy's code is out of
the CPU's caches; most of it is per call, so a long block spreads it thin (under 0.1 µs per step).
"""

FIRST_BLOCK = 256
"""The length of the first block of a fit."""

WIDE = 16
"""From this many slots (param groups) on, a block's rows are converted to floats one step at a time."""


class Active:
    """A binding resolved against live objects at the start of a fit (hot-path data).

    A binding whose schedules are all vectorisable evaluates the coming :data:`BLOCK` events in
    one numpy call, kept as plain lists, and each step then reads an entry: a few hundred
    nanoseconds instead of a Python evaluation per group. Where every slot is one schedule times a
    per-slot constant (a relative target, or torch's ``initial_lr * factor(t)``), the block holds
    that one schedule's values and ``shared`` the constants: a slot's value is ``shared[j] *
    block[i]``, the same IEEE product numpy computes, so 200 param groups cost one column and a
    multiplication each. Otherwise the block holds the slots' values row by row (``block[i * width
    + j]``): the values of one event sit together in memory, which keeps a step over many param
    groups in the CPU's caches (a list per slot spread each step over as many lists). From
    :data:`WIDE` slots on, the rows stay a numpy array and a step converts its own row (a third of
    what converting the whole block ahead costs per row). Other bindings (user functions, running
    products) evaluate ``value(t)`` per step. Memory stays constant.

    ``values`` holds the values last written by the engine's general path and at each logged
    event; the fast path (plain param groups straight from the block) does not update it.

    A bound target with per-slot ``factors`` (each param group's ``lr_scale``, an attribute
    pattern's per-match scale) has them folded into ``scale`` here (:func:`with_factors`), as is a
    factor set from outside (:meth:`set_outside`, a batch-size ramp's lr scaling): the blocks hold
    the values written, and the write paths are the same as without factors.
    """

    __slots__ = (
        "block",
        "block_len",
        "block_start",
        "bound",
        "captured",
        "floors",
        "inner",
        "key",
        "multipliers",
        "outside",
        "own_scale",
        "plain",
        "scale",
        "schedules",
        "shared",
        "stride",
        "values",
        "vectorised",
    )

    def __init__(
        self,
        bound: BoundTarget,
        schedules: list[Schedule],
        scale: list[float] | None,
        captured: list[float] | None,
        key: str = "",
    ) -> None:
        self.bound = bound
        self.key = key  # the target's description (checkpoint state, messages)
        self.schedules = schedules
        self.own_scale = with_factors(scale, getattr(bound, "factors", None))
        self.scale = self.own_scale
        self.outside = 1.0  # a factor set from outside the callback (Engine.set_factor), folded into scale
        self.captured = captured
        self.values: list[float] = [math.nan] * len(schedules)
        # Set by plateau reduction: per-slot multipliers and the floor they never push below.
        self.multipliers: list[float] | None = None
        self.floors: list[float] = []
        self.vectorised = all(s.vectorised for s in schedules)
        self.inner, self.shared = _shared_form(schedules, self.scale)
        # The block: events block_start .. block_start + block_len - 1, row by row (width values an
        # event), or (shared) the common schedule's values.
        self.block: Any = []  # a flat list, or (wide) a 2-D array of rows
        self.block_len = 0
        self.block_start = 0
        # Events between two rows of the block: 1, or the samples or tokens one optimizer step
        # consumes (a unit clock moves by that much a step; the engine learns it).
        self.stride = 1
        self.plain: tuple[list[dict[str, Any]], str] | None = (
            bound.plain_groups() if isinstance(bound, BoundParamGroups) else None
        )

    def set_outside(self, factor: float) -> None:
        """Multiply every value by ``factor`` (1.0: none) from the next block on, folded into ``scale``."""
        self.outside = factor
        own = self.own_scale
        self.scale = own if factor == 1.0 else with_factors(own, [factor] * len(self.schedules))
        self.inner, self.shared = _shared_form(self.schedules, self.scale)
        self.block, self.block_len = [], 0  # evaluated again with the factor

    def raw_value(self, j: int, t: int) -> float:
        """The schedule's value for slot ``j`` at ``t``, before any plateau reduction."""
        v = self.schedules[j].value(t)
        return v if self.scale is None else self.scale[j] * v

    def row(self, offset: int) -> list[float]:
        """Every slot's value at ``block_start + offset``, read from the block."""
        shared = self.shared
        if shared is not None:
            v = self.block[offset]
            return [f * v for f in shared]
        width = len(self.schedules)
        if width >= WIDE:
            return self.block[offset].tolist()  # type: ignore[no-any-return]
        return self.block[offset * width : (offset + 1) * width]  # type: ignore[no-any-return]

    def raw_values(self, t: int) -> list[float]:
        """Every slot's value at ``t`` before plateau reduction (finite, or ``raw_value`` raises later)."""
        if self.vectorised:
            offset, off_row = t - self.block_start, 0
            if self.stride != 1:
                offset, off_row = divmod(offset, self.stride)
            if off_row or not 0 <= offset < self.block_len:
                self._refill(t)
                offset = 0
            if offset < self.block_len:
                return self.row(offset)
        return [self.raw_value(j, t) for j in range(len(self.schedules))]

    def _refill(self, t: int) -> None:
        # The first block of a fit is short: a short fit (or one that resumes and stops soon)
        # evaluates little; the long blocks come once the fit is under way.
        rows = BLOCK if self.block_len else FIRST_BLOCK
        ts = np.arange(t, t + rows * self.stride, self.stride, dtype=np.float64)
        bad = np.zeros(len(ts), dtype=bool)
        with np.errstate(over="ignore"):  # an overflow ends the block below; the scalar path names it
            if self.inner is not None and self.shared is not None:
                common = self.inner._values(ts)
                raw = [common]
                slots = [f * common for f in self.shared]
            else:
                raw = slots = [
                    schedule._values(ts) if self.scale is None else self.scale[j] * schedule._values(ts)
                    for j, schedule in enumerate(self.schedules)
                ]
        for column in slots:
            bad |= ~np.isfinite(column)
            if self.bound.non_negative:
                bad |= column < 0
        # Stop the block before a value that cannot be written (non-finite, or negative for a key
        # that must not be): the scalar path reports it when (if) it is reached.
        end = int(np.argmax(bad)) if bad.any() else len(ts)
        # One flat list: a list of rows would cost a list per event (9x the time, and work for the
        # garbage collector); row-major, so that one event's values are read from one place.
        if len(raw) == 1:
            self.block = raw[0][:end].tolist()
        elif len(raw) >= WIDE:
            self.block = np.stack(raw, axis=1)[:end]
        else:
            self.block = np.stack(raw, axis=1)[:end].ravel().tolist()
        self.block_len = end
        self.block_start = t


def with_factors(scale: list[float] | None, factors: list[float] | None) -> list[float] | None:
    """A binding's per-slot ``scale`` (relative targets' start values, or ``None``) times per-slot ``factors``.

    The product is taken once, so a slot's value is ``(factor * base) * schedule(t)``: one
    multiplication per value, the same in a fit's blocks, its scalar path and a preview that folds
    the factors in with this function.

    Examples:
        >>> with_factors([0.1, 0.2], [0.5, 1.0])
        [0.05, 0.2]
        >>> with_factors(None, [0.5, 1.0])
        [0.5, 1.0]
    """
    if factors is None:
        return scale
    if scale is None:
        return list(factors)
    return [f * s for f, s in zip(factors, scale, strict=True)]


def _shared_form(schedules: list[Schedule], scale: list[float] | None) -> tuple[Schedule | None, list[float] | None]:
    """``(common schedule, per-slot constants)`` where every slot is a constant times one schedule."""
    if len(schedules) < 2 or not all(s.vectorised for s in schedules):
        return None, None
    first = schedules[0]
    if scale is not None:
        if all(s is first for s in schedules):
            return first, list(scale)
        return None, None
    if all(isinstance(s, Scale) for s in schedules):
        inner = schedules[0].schedule  # type: ignore[attr-defined]
        if all(s.schedule is inner for s in schedules):  # type: ignore[attr-defined]
            return inner, [s.factor for s in schedules]  # type: ignore[attr-defined]
    return None, None
