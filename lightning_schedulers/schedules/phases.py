"""poutyne's vocabulary: spaces of values, phases that drive several keys at once, and their chaining.

Examples:
    >>> from lightning_schedulers.schedules import Phase, linspace
    >>> p = Phase(lr=linspace(0.1, 1.0, 10), momentum=linspace(0.95, 0.85, 10))
    >>> p.steps, p.keys
    (10, ('lr', 'momentum'))
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightning_schedulers._validation import check_float, check_sequence
from lightning_schedulers.schedules.base import FloatArray, Schedule, check_schedule, set_field
from lightning_schedulers.schedules.composition import sequence
from lightning_schedulers.schedules.durations import Duration, TrainingFraction, check_duration

__all__ = ["Phase", "Space", "cosinespace", "join_phases", "linspace"]

SPACE_KINDS = ("linear", "cosine")
_ITER_BLOCK = 65536


@dataclass(frozen=True)
class Space(Schedule):
    """``steps`` values from ``start`` to ``end``, both included (poutyne's ``linspace``/``cosinespace``).

    Iterating gives the values; as a schedule, event ``t`` gives value ``t`` and the last value holds
    after the end. ``kind`` is ``"linear"`` or ``"cosine"``; the arithmetic is poutyne's. A single
    step gives ``[start]`` (poutyne divides by zero there). ``steps`` is at least 1.

    Examples:
        >>> list(Space("linear", 0.0, 1.0, 5))
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    kind: str
    start: float
    end: float
    steps: Duration

    def __post_init__(self) -> None:
        if self.kind not in SPACE_KINDS:
            raise ValueError(f"`kind` must be 'linear' or 'cosine', got {self.kind!r}")
        set_field(self, "start", check_float("start", self.start))
        set_field(self, "end", check_float("end", self.end))
        set_field(self, "steps", check_duration("steps", self.steps, minimum=1))

    def __len__(self) -> int:
        return int(self.steps)  # a fraction of training has no length until resolved (clear error)

    def __iter__(self) -> Iterator[float]:
        # In blocks: a long space (2**40 steps) is iterated, not allocated at once.
        steps = int(self.steps)
        for begin in range(0, steps, _ITER_BLOCK):
            yield from self.values(np.arange(begin, min(begin + _ITER_BLOCK, steps))).tolist()

    def _values(self, ts: FloatArray) -> FloatArray:
        last = int(self.steps) - 1
        if last == 0:
            return np.full(ts.shape, self.start)
        progress = np.minimum(np.maximum(ts, 0.0), last) / last
        if self.kind == "linear":
            out: FloatArray = self.start + progress * (self.end - self.start)
        else:
            out = self.end + (self.start - self.end) * (1 + np.cos(progress * math.pi)) / 2
        return out


def linspace(start: float, end: float, steps: int) -> Space:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (poutyne's ``linspace``).

    Examples:
        >>> list(linspace(1.0, 0.0, 3)), list(linspace(0.5, 2.0, 1))
        ([1.0, 0.5, 0.0], [0.5])
    """
    return Space("linear", start, end, steps)


def cosinespace(start: float, end: float, steps: int) -> Space:
    """``steps`` values on a half cosine from ``start`` to ``end``, both included (poutyne's ``cosinespace``).

    Examples:
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

    Iterating a phase yields one ``{key: value}`` dict per step, as poutyne's does.

    Examples:
        >>> p = Phase(lr=linspace(0.1, 1.0, 10), momentum=linspace(0.95, 0.85, 10))
        >>> p.steps, p.keys
        (10, ('lr', 'momentum'))
        >>> list(Phase(lr=linspace(0.0, 1.0, 3)))
        [{'lr': 0.0}, {'lr': 0.5}, {'lr': 1.0}]
    """

    steps: Duration
    schedules: tuple[tuple[str, Schedule], ...]

    def __init__(self, steps: Duration | None = None, /, **schedules: Schedule) -> None:
        if not schedules:
            raise ValueError("a Phase needs at least one named schedule, got none")
        for key, schedule in schedules.items():
            check_schedule(key, schedule)
        lengths = {key: s.steps for key, s in schedules.items() if isinstance(s, Space)}
        if steps is None:
            if len(lengths) != len(schedules):
                missing = [key for key in schedules if key not in lengths]
                raise ValueError(
                    f"give the Phase length `steps`: {missing} are not spaces with a length of their own "
                    f"(got steps={steps!r})"
                )
            steps = next(iter(lengths.values()))
        set_field(self, "steps", check_duration("steps", steps, minimum=0))
        wrong = {key: n for key, n in lengths.items() if n != self.steps}
        if wrong:
            raise ValueError(f"every space of a phase must have its {self.steps} steps, got lengths {lengths}")
        set_field(self, "schedules", tuple(schedules.items()))

    @property
    def keys(self) -> tuple[str, ...]:
        """The names this phase drives, in the order given."""
        return tuple(key for key, _ in self.schedules)

    def __getitem__(self, key: str) -> Schedule:
        for name, schedule in self.schedules:
            if name == key:
                return schedule
        raise KeyError(f"phase has no schedule for {key!r}; it has {self.keys}")

    def __iter__(self) -> Iterator[dict[str, float]]:
        """One ``{key: value}`` dict per step, as poutyne's ``Phase`` yields them.

        A phase whose length is a fraction of training has no steps until that is resolved (a
        clear error).
        """
        n = int(self.steps)
        columns = [schedule.values(np.arange(n)).tolist() for _, schedule in self.schedules]
        keys = self.keys
        for row in zip(*columns, strict=True):
            yield dict(zip(keys, row, strict=True))

    def plot(self, param_name: str = "lr", ax: Any = None) -> Any:
        """Plot the values of ``param_name`` over this phase's steps; return the matplotlib ``Axes``."""
        from lightning_schedulers._plotting import plot_columns

        if param_name not in self.keys:
            raise ValueError(f"`param_name`={param_name!r} is not driven by this phase; it drives {self.keys}")
        data = self[param_name].values(np.arange(int(self.steps)))
        return plot_columns(data, [param_name], xlabel="step", ax=ax)


def join_phases(phases: Sequence[Phase]) -> dict[str, Schedule]:
    """Chain phases into one schedule per key; the last phase's values hold after it ends.

    Every phase must drive the same keys, so no value is silently left unscheduled for a phase.
    Phases of zero steps are skipped.

    Examples:
        >>> from lightning_schedulers.schedules import Cosine, Linear
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
        raise ValueError(f"every phase has zero steps; there is nothing to schedule, got `phases`={list(items)!r}")
    durations = [phase.steps for phase in kept[:-1]]
    return {key: sequence([phase[key] for phase in kept], durations) for key in keys}
