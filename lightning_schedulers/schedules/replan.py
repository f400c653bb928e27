"""Re-planning a schedule for a fit whose length changed: continue the phase in progress, no jump.

A schedule whose lengths came from the fit (fractions of training, a length left to the fit) is
planned for a fit of ``T`` events. Resumed into a fit of ``T'`` events at event ``t0``, it is
re-planned as follows:

* the phase in progress at ``t0`` (between two of the plan's phase ends) goes on from the value it
  has at ``t0`` and is stretched (or squeezed) so that it ends where the new plan ends that phase:
  ``h(t) = f(t0 + (t - t0) * (e - t0) / (e' - t0))`` for ``t0 <= t < e'``, with ``e`` and ``e'``
  the phase's end in the old and the new plan;
* from ``e'`` on, the new plan ``g`` (the schedule planned for ``T'`` from the start) applies,
  bit for bit.

Where the phases are not known (a user function, a cyclic schedule), or the new plan ends the
phase in progress before ``t0`` (a much shorter fit), the rest of the old plan is stretched (or
squeezed) over the rest of the new fit as one phase.

A cosine over the whole fit then anneals from its current value to its floor at the new end; a
warmup-stable-decay extended during its stable phase holds its peak until the new plan's decay
starts and equals, from the resume on, the schedule planned for the new length.

Examples:
    >>> from lightning_schedulers.schedules import Cosine
    >>> old, new = Cosine(1.0, 0.0, 100), Cosine(1.0, 0.0, 200)
    >>> h, note = replan(old, new, 50, 100, 200)
    >>> h.value(50) == old.value(50), round(h.value(125), 12), h.value(200)
    (True, 0.146446609407, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from lightning_schedulers.schedules.base import FloatArray, Schedule
from lightning_schedulers.schedules.composition import Clamp, Join, Product, Scale, Shift
from lightning_schedulers.schedules.references import OneCycle
from lightning_schedulers.schedules.shapes import (
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    Linear,
    MultiStep,
    PiecewiseLinear,
    Polynomial,
    PowerRamp,
)

__all__ = ["Replanned", "phase_ends", "replan", "settles_at"]


def phase_ends(schedule: Schedule) -> tuple[float, ...] | None:
    """The events where one phase of ``schedule`` ends and the next begins, in order.

    ``None``: not known (a user function, a cyclic schedule). A resolved schedule only.

    Examples:
        >>> from lightning_schedulers.schedules import Constant, Linear, Cosine, join
        >>> phase_ends(join([Linear(0.0, 1.0, 10), Constant(1.0), Cosine(1.0, 0.0, 30)], [10, 70]))
        (10.0, 70.0, 100.0)
    """
    if isinstance(schedule, Replanned):
        return schedule.ends
    if isinstance(schedule, Constant):
        return ()
    if isinstance(schedule, (Linear, Cosine, Polynomial, PowerRamp)):
        return (float(schedule.steps),) if int(schedule.steps) > 0 else ()
    if isinstance(schedule, InverseSqrt):
        return (float(schedule.warmup_steps),)
    if isinstance(schedule, Exponential):
        return (float(schedule.begin),) if int(schedule.begin) > 0 else ()
    if isinstance(schedule, MultiStep):
        return tuple(sorted({float(m) for m in schedule.milestones if int(m) > 0}))
    if isinstance(schedule, PiecewiseLinear):
        return tuple(sorted({float(e) for e, _ in schedule.points if int(e) > 0}))
    if isinstance(schedule, OneCycle):
        return tuple(end for end, _, _ in schedule._phases)
    if isinstance(schedule, (Scale, Clamp)):
        return phase_ends(schedule.schedule)
    if isinstance(schedule, Shift):
        inner = phase_ends(schedule.schedule)
        return None if inner is None else tuple(e - schedule.offset for e in inner if e - schedule.offset > 0)
    if isinstance(schedule, Product):
        parts = [phase_ends(f) for f in schedule.factors]
        if any(p is None for p in parts):
            return None
        return tuple(sorted({e for p in parts for e in p}))  # type: ignore[union-attr]
    if isinstance(schedule, Join):
        ends: list[float] = []
        starts = [0, *schedule.boundaries]
        for i, piece in enumerate(schedule.schedules):
            stop = float(schedule.boundaries[i]) if i < len(schedule.boundaries) else float("inf")
            inner = phase_ends(piece)
            if inner is None:
                return None
            ends.extend(starts[i] + e for e in inner if starts[i] + e < stop)
            if i < len(schedule.boundaries):
                ends.append(stop)
        return tuple(sorted(set(ends)))
    return None


def settles_at(schedule: Schedule) -> float | None:
    """The event from which ``schedule`` holds one value for good (``None``: never, or not known).

    A staircase (``MultiStep``) is taken as never settling: holding after its last milestone is its
    design, not the end of a plan.

    Examples:
        >>> from lightning_schedulers.schedules import Constant, Linear, Cosine, join
        >>> settles_at(join([Linear(0.0, 1.0, 10), Cosine(1.0, 0.0, 30)], [10]))
        40.0
        >>> settles_at(Cosine(1.0, 0.0, 30, periodic=True)) is None
        True
    """
    if isinstance(schedule, Constant):
        return 0.0
    if isinstance(schedule, Cosine):
        return None if schedule.periodic else float(schedule.steps)
    if isinstance(schedule, (Linear, Polynomial, PowerRamp)):
        return float(schedule.steps)
    if isinstance(schedule, OneCycle):
        return float(int(schedule.total_steps) - 1)
    if isinstance(schedule, PiecewiseLinear):
        return float(max(int(e) for e, _ in schedule.points))
    if isinstance(schedule, (Scale, Clamp)):
        return settles_at(schedule.schedule)
    if isinstance(schedule, Shift):
        inner = settles_at(schedule.schedule)
        return None if inner is None else max(inner - schedule.offset, 0.0)
    if isinstance(schedule, Product):
        ends = [settles_at(f) for f in schedule.factors]
        return None if any(e is None for e in ends) else max(ends)  # type: ignore[type-var]
    if isinstance(schedule, Join):
        last = settles_at(schedule.schedules[-1])
        start = float(schedule.boundaries[-1]) if schedule.boundaries else 0.0
        return None if last is None else start + last
    return None


@dataclass(frozen=True)
class Replanned(Schedule):
    """``old`` until ``at``; its phase in progress stretched from ``at`` to ``new_end``; then ``new``.

    ``old_end`` is where that phase ends in ``old``; ``ends`` the phase ends of the result
    (``None`` where unknown), kept for a later re-plan.
    """

    old: Schedule
    new: Schedule
    at: int
    old_end: float
    new_end: float
    ends: tuple[float, ...] | None = None

    @property
    def vectorised(self) -> bool:
        return self.old.vectorised and self.new.vectorised

    def _values_into(self, ts: FloatArray, out: FloatArray) -> None:
        before = ts < self.at
        after = ts >= self.new_end
        middle = ~(before | after)
        if before.any():
            out[before] = self.old._values(ts[before])
        if middle.any():
            rate = (self.old_end - self.at) / (self.new_end - self.at)
            out[middle] = self.old._values(self.at + (ts[middle] - self.at) * rate)
        if after.any():
            out[after] = self.new._values(ts[after])


def replan(old: Schedule, new: Schedule, at: int, old_total: int, new_total: int) -> tuple[Schedule, str]:
    """``old`` (planned for ``old_total`` events) re-planned at event ``at`` as ``new`` (for ``new_total``).

    Returns the schedule and what it does, in words, for the message a resumed fit prints.
    """
    if old == new:
        return new, "unchanged (its lengths do not depend on the fit's)"
    old_ends, new_ends = phase_ends(old), phase_ends(new)
    if old_ends is not None and new_ends is not None and len(old_ends) == len(new_ends):
        k = next((i for i, e in enumerate(old_ends) if e > at), None)
        if k is None:
            return old, f"had run its course by event {at}: it holds its last value"
        e_old, e_new = old_ends[k], new_ends[k]
        if e_new > at:
            ends = (*old_ends[:k], e_new, *new_ends[k + 1 :])
            return Replanned(old, new, at, e_old, e_new, ends), (
                f"continues the phase in progress from its value at {at}, now ending at {_event(e_new)} "
                f"(was {_event(e_old)}), then follows the schedule planned for {new_total}"
            )
        # The new plan ends the phase in progress before the resume (a much shorter fit): no phase
        # of it can follow without a jump; squeeze the rest of the old plan into the rest of the fit.
    # Phases not known (or past, above): stretch the rest of the old plan over the rest of the new fit.
    if old_total <= at:
        return old, f"had run its course by event {at}: it holds its last value"
    if new_total <= at:
        return new, f"the new fit ({new_total}) ends before the resume: it follows the new plan"
    return Replanned(old, Constant(old.value(old_total)), at, old_total, new_total), (
        f"stretches the rest of its plan (events {at} to {old_total}) over events {at} to {new_total}"
    )


def _event(e: float) -> str:
    return str(int(e)) if float(e).is_integer() else f"{e:g}"
