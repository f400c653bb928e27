"""Cooldowns branched off a running schedule: ``Cooldown(base, start=..., length=..., shape=..., to=...)``.

A warmup-stable-decay run holds its lr and decays it only at the end; where the end is not known
in advance, the stable run is checkpointed and cooldowns of several lengths (or shapes) are branched
from a checkpoint. :class:`Cooldown` applies such a branch to any scheduler callback of this package
(its ``base``): until ``start`` every value the base drives is the base's, unchanged; from
``start`` it is the value the base applied at ``start`` multiplied down to ``to`` times it along
``shape`` over ``length`` steps (:class:`lightning_schedulers.schedules.cooldown.Cooldown` wraps
each of the base's schedules).

It takes the base's place on a resume: its ``state_key`` is the base's, so a checkpoint written by
the base alone resumes into ``Cooldown(base)``, and one written by the cooldown resumes into it
again (it records where the branch started: ``start="resume"`` resumed later continues the same
branch). The base must not also be passed to the Trainer: Lightning refuses two stateful callbacks
with one state key when the Trainer is built.

Examples:
    >>> import lightning_schedulers as ls
    >>> from lightning_schedulers.callbacks.cooldown import Cooldown
    >>> from lightning_schedulers.schedules import Constant
    >>> stable = ls.ScheduleCallback(Constant(0.1))
    >>> Cooldown(stable, start=4, length=4).simulate(10).round(6).tolist()
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025, 0.0, 0.0]
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import lightning.pytorch as pl
import numpy as np

from lightning_schedulers._validation import check_float, check_int
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.plateau_timing import _PlateauTiming
from lightning_schedulers.callbacks.preview import PREVIEW_TOTAL
from lightning_schedulers.engine.bindings import Active, Binding
from lightning_schedulers.engine.run import Run
from lightning_schedulers.plateau import apply_reduction
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Scale
from lightning_schedulers.schedules.cooldown import SHAPES, CooldownShape, check_start
from lightning_schedulers.schedules.cooldown import Cooldown as CooledSchedule
from lightning_schedulers.schedules.durations import Duration, TrainingFraction, check_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lightning_schedulers.targets import BoundTarget

__all__ = ["Cooldown"]

# simulate(..., resume_at=k): the step a preview of start="resume" starts the cooldown at.
_RESUME_AT: ContextVar[int | None] = ContextVar("lightning_schedulers_cooldown_resume_at", default=None)


@dataclass
class _Branch:
    """One fit's cooldown: where it starts, how long it is, and a plateau base's frozen multipliers."""

    start: int
    length: int
    frozen: list[float] | None = None  # set once a plateau base's multipliers are frozen at start


class Cooldown(SchedulerCallback):
    """Cool down every value ``base`` drives, from what it applied at ``start`` to ``to`` times that.

    With ``v`` the value the base applied at step ``start`` (for each target and param group;
    plateau reductions included) and ``x = (t - start) / length``, the value at step ``t >= start``
    is ``v * (to + (1 - to) * f(x))``: the factor ``f`` falls from 1 at ``x = 0`` to 0 at
    ``x = 1`` along ``shape`` (``1 - x``, ``(1 + cos(pi x)) / 2``, ``1 - sqrt(x)`` or
    ``1 - x**2``), so the value goes from ``v`` to ``to * v`` and holds ``to * v`` after
    ``start + length``. Before ``start`` the base's values are applied unchanged. ``start`` and
    ``length`` count the base's events (its ``interval`` and ``clock``); for a plateau callback
    without a ``base`` of its own (a constant value), optimizer steps.

    Branching: cooldowns started from one checkpoint of a stable run (``start="resume"``) apply, bit
    for bit, what uninterrupted fits with ``start=`` that step apply, and a fit resumed in the
    middle of a cooldown continues it exactly. The checkpoint records the branch (its start and
    length), so ``start="resume"`` resumed from a cooldown's own checkpoint continues that branch,
    and ``length=None`` keeps the length it was resolved to.

    Checkpoints: the cooldown's ``state_key`` is the base's. A checkpoint written by the base alone
    resumes into ``Cooldown(base)`` (its position, start values and plateau state are the base's),
    and one written by the cooldown into the cooldown. Pass the cooldown *instead of* the base:
    with both in ``Trainer(callbacks=...)`` Lightning raises ``RuntimeError`` (two stateful
    callbacks with one ``state_key``) when the Trainer is built.

    A plateau base (:class:`~lightning_schedulers.ReduceLROnPlateau`, ``GreedyLR``): its decisions
    run until ``start``, where its multiplier is frozen: ``v`` includes every reduction taken
    before step ``start`` trains (a decision after step ``start - 1``'s batch included), no decision
    is taken after, and ``min_lr`` no longer applies (the cooldown ends at ``to * v``). A fit
    resumed after ``start`` from a checkpoint of the base alone freezes the multiplier it resumes
    with. In a hand-written loop the multiplier is frozen at the first ``report()`` at or after
    ``start``.

    Args:
        base: the scheduler callback of this package whose values cool down (not passed to the
            Trainer itself). Its ``interval``, ``clock``, ``name``, ``save_history``,
            ``logging_enabled`` and ``on_resume`` are the cooldown's.
        start: the step the cooldown starts at: an int, a fraction of the fit
            (``lightning_schedulers.schedules.fraction(0.8)`` or ``0.8``), or ``"resume"``: the step
            this fit resumes at (from the checkpoint's branch if it holds one). A fit that does not
            resume from a checkpoint cannot start at ``"resume"``.
        length: the cooldown's steps: an int ``>= 1``, a fraction of the fit, or ``None`` (default):
            to the end of this fit (``trainer.max_steps``, or the fit's estimated length).
        shape: ``"linear"`` (default), ``"cosine"``, ``"1-sqrt"`` or ``"square"``.
        to: the fraction of ``v`` the cooldown ends at, in ``[0, 1]`` (default 0).

    Preview: :meth:`simulate` and :meth:`plot` show the values (before any plateau reduction, as
    for the plateau callbacks); with ``start="resume"`` pass the step: ``simulate(n, resume_at=k)``.
    ``ls.preview(...)`` needs an int or fraction ``start``.

    Examples:
        >>> import lightning_schedulers as ls
        >>> from lightning_schedulers.schedules import Linear
        >>> stable = ls.ScheduleCallback(Linear(0.0, 1.0, 2))
        >>> cd = Cooldown(stable, start="resume", length=2, shape="1-sqrt", to=0.1)
        >>> cd.simulate(6, resume_at=3).round(4).tolist()
        [0.0, 0.5, 1.0, 1.0, 0.3636, 0.1]
    """

    def __init__(
        self,
        base: SchedulerCallback,
        start: Duration | Literal["resume"],
        length: Duration | None = None,
        shape: CooldownShape = "linear",
        to: float = 0.0,
    ) -> None:
        if not isinstance(base, SchedulerCallback):
            raise TypeError(
                f"`base` must be a scheduler callback of this package, got {base!r} ({type(base).__name__})"
            )
        if isinstance(base, Cooldown):
            raise TypeError(f"`base` is already a Cooldown ({base!r}); give its base and one cooldown")
        # A plateau callback without a schedule holds a constant (its interval only sets its logging):
        # its cooldown counts steps. Otherwise the base's events are the cooldown's.
        constant = isinstance(base, _PlateauTiming) and getattr(base, "base", None) is None
        super().__init__(
            interval="step" if constant else base.interval,
            clock=base.clock,
            count=base.count,
            name=base.name,
            save_history=base.save_history,
            logging_enabled=base.logging_enabled,
            # A fit of another length plans the base again (on_resume="replan"); the cooldown then
            # replaces what it applies from `start` on (see _finished), over this fit's length.
            on_resume=base.on_resume,
        )
        self.start: int | TrainingFraction | Literal["resume"] = check_start(start)
        self.length: int | TrainingFraction | None = (
            None if length is None else check_duration("length", length, minimum=1)
        )
        if shape not in SHAPES:
            raise ValueError(f"`shape` must be one of {SHAPES}, got {shape!r}")
        self.shape: CooldownShape = shape
        self.to = check_float("to", to)
        if not 0.0 <= self.to <= 1.0:
            raise ValueError(f"`to` must be in [0, 1] (the fraction of the value at `start` to end at), got {to!r}")
        self.base = base
        base._length_owner = self  # the base runs in this callback's run: its clock, lengths, resume policy
        # ignite's state schedulers keep the values written after each event in their history.
        self._history_after_events = base._history_after_events  # type: ignore[misc]

    def __repr__(self) -> str:
        return (
            f"Cooldown(base={self.base!r}, start={self.start!r}, length={self.length!r}, shape={self.shape!r}, "
            f"to={self.to!r})"
        )

    # ----------------------------------------------------------------- the base's identity
    @property
    def state_key(self) -> str:
        # The base's: a checkpoint of the base alone resumes into the cooldown, and back.
        return self.base.state_key

    def _config(self) -> str:
        # The fingerprint of what the stored position and start values belong to: the base's
        # schedule (the branch itself is kept in extra["cooldown"]).
        return self.base._config()

    def _drives(self, other: SchedulerCallback) -> bool:
        return other is self.base or self.base._drives(other)

    def _plateau(self) -> _PlateauTiming | None:
        return self.base if isinstance(self.base, _PlateauTiming) else None

    # ----------------------------------------------------------------- the branch
    @property
    def _branch(self) -> _Branch | None:
        """This fit's branch (``None`` between fits)."""
        run = self._active_run
        return None if run is None else run.parts.get("cooldown")

    def _preview_branch(self, total: int) -> tuple[int, int] | None:
        """The branch a preview over ``total`` events shows (``None``: ``"resume"`` without a step)."""
        if self.start == "resume":
            start = _RESUME_AT.get()
            if start is None:
                return None
        else:
            start = self.start.resolve(total) if isinstance(self.start, TrainingFraction) else int(self.start)
        if self.length is None:
            return start, max(1, total - start)
        return start, self.length.resolve(total) if isinstance(self.length, TrainingFraction) else self.length

    def _bindings(self) -> tuple[Binding, ...]:
        # In a fit the base's bindings are bound and the run resolves (and plans again) their
        # schedules; _finished then cools them. A preview cools them here.
        bindings = self.base._bindings()
        preview = PREVIEW_TOTAL.get()
        where = self._preview_branch(preview) if preview is not None else None
        if where is None:  # a fit, or no preview step for "resume": the base's targets (guards, labels)
            return bindings
        return tuple(self._cooled(binding, *where) for binding in bindings)

    def _finished(self, key: str, schedules: list[Schedule]) -> list[Schedule]:
        branch = self._branch
        if branch is None:
            return schedules
        return _cool_all(schedules, start=branch.start, length=branch.length, shape=self.shape, to=self.to)

    def _cooled(self, binding: Binding, start: int, length: int) -> Binding:
        cool = functools.partial(_cool_all, start=start, length=length, shape=self.shape, to=self.to)
        if binding.builder is not None:
            return dataclasses.replace(binding, builder=functools.partial(_cool_built, binding.builder, cool))
        return dataclasses.replace(binding, schedules=tuple(cool(list(binding.schedules))))

    # ----------------------------------------------------------------- the family contract
    def _resolve(self, host: Any, restored: dict[str, Any] | None) -> None:
        run = self._active_run
        assert run is not None
        base = self.base
        base._length_owner = self  # a base reused by another cooldown since: this fit's is this one
        plateau = self._plateau()
        if plateau is not None:
            if self._length_owner is not self:
                raise ValueError(
                    f"{self!r} is driven by {self._length_owner!r}; a cooldown of a plateau callback takes its "
                    "decisions in its own hooks: pass it to the Trainer itself"
                )
            plateau._run = run  # its decisions and multipliers live in this fit's run
        saved = restored.get("cooldown") if restored is not None else None
        base._resolve(host, _without_branch(restored))
        resumed = restored is not None or run.stateless_resume
        now = max(run.now(), 0)
        saved_start = saved["start"] if isinstance(saved, dict) else None
        if self.start == "resume":
            if saved_start is not None:
                start = int(saved_start)
            elif resumed or getattr(host, "trainer", None) is None:  # a loop loads its state after binding
                start = now
            else:
                raise ValueError(
                    f"{self!r}: start='resume' is the step this fit resumes at, and it does not resume from a "
                    "checkpoint; pass ckpt_path= to trainer.fit, or give `start` as a step or a fraction of the fit"
                )
        else:
            start = self._dur(self.start)
            if saved_start is not None and saved_start != start:
                self._warn_once(
                    "cooldown-moved",
                    f"Cooldown: the checkpoint's cooldown started at {self.interval} {saved_start}, and this callback "
                    f"starts it at {start} (start={self.start!r}); following this callback",
                )
        same = isinstance(saved, dict) and saved_start == start
        if self.length is not None:
            length = self._dur(self.length)
        elif same:
            assert isinstance(saved, dict)
            length = int(saved["length"])  # the end of the fit the branch was made in
        else:
            length = max(1, host.fit_length(self) - run.offset - start)
        if same:
            assert isinstance(saved, dict)
            changed = {k: (saved[k], v) for k, v in (("shape", self.shape), ("to", self.to)) if saved.get(k) != v}
            if changed:
                self._warn_once(
                    "cooldown-changed",
                    f"Cooldown: the checkpoint's cooldown from {self.interval} {start} had "
                    + ", ".join(f"{k}={old!r}" for k, (old, _) in changed.items())
                    + "; following this callback's "
                    + ", ".join(f"{k}={new!r}" for k, (_, new) in changed.items()),
                )
        frozen = saved.get("frozen") if same and isinstance(saved, dict) else None
        run.parts["cooldown"] = _Branch(start, length, None if frozen is None else [float(m) for m in frozen])
        # After its end the cooldown holds `to * v` by design: no warning then. Before `start`, a base
        # whose schedule ran out holds its last value, and says so as it would alone.
        horizon = base._horizon
        self._horizon = horizon if horizon is not None and horizon < start else None

    def _after_bind(self, restored: dict[str, Any] | None, previous: list[Any] | None = None) -> None:
        self.base._after_bind(_without_branch(restored), previous)
        run, branch = self._active_run, self._branch
        if self._plateau() is None or run is None or branch is None:
            return
        if branch.frozen is not None:
            self._apply_frozen(branch.frozen)  # restored from the checkpoint, or again after a rebind
        elif run.now() >= branch.start:
            self._freeze(run, branch)  # before the first value of this fit is written

    def _extra_state(self) -> dict[str, Any]:
        extra = dict(self.base._extra_state())
        branch = self._branch
        extra["cooldown"] = (
            None
            if branch is None
            else {
                "start": branch.start,
                "length": branch.length,
                "shape": self.shape,
                "to": self.to,
                "frozen": None if branch.frozen is None else list(branch.frozen),
            }
        )
        return extra

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        problem = _branch_problem(extra.get("cooldown"))
        return problem if problem is not None else self.base._check_extra(_without_branch(extra) or {})

    def _stateless_bases(self, binding: Binding, bound: BoundTarget, current: list[float], t: int) -> list[float]:
        return self.base._stateless_bases(binding, bound, current, t)

    def _on_metrics(self, run: Run, metrics: dict[str, float]) -> None:
        plateau, branch = self._deciding(), self._branch
        if plateau is None or branch is None:
            return
        if run.held() <= branch.start:  # a decision before step start trains counts
            plateau._on_metrics(run, metrics)
        if run.held() >= branch.start:
            self._freeze(run, branch, write=True)

    # ----------------------------------------------------------------- a plateau base: frozen at start
    def _deciding(self) -> _PlateauTiming | None:
        """The plateau base while its decisions still run (before the freeze); else ``None``."""
        plateau = self._plateau()
        if plateau is None:  # a schedule base: nothing to forward (the hot path of most cooldowns)
            return None
        branch = self._branch
        return plateau if branch is not None and branch.frozen is None else None

    def _plateau_active(self) -> Active:
        plateau = self._plateau()
        fit = plateau._fit if plateau is not None else None
        assert fit is not None and fit.active is not None  # set by the plateau's _after_bind
        active: Active = fit.active
        return active

    def _freeze(self, run: Run, branch: _Branch, *, write: bool = False) -> None:
        """Freeze the plateau's multipliers at what they give at ``start``: from now on only the cooldown moves."""
        active = self._plateau_active()
        branch.frozen = _frozen_multipliers(active, branch.start)
        self._apply_frozen(branch.frozen)
        if write and run.engine is not None and run.engine.values_at(active, run.held()) != active.values:
            run.write_now()

    def _apply_frozen(self, frozen: list[float]) -> None:
        active = self._plateau_active()
        slots = len(active.schedules)
        # Groups added during the cooldown keep the multiplier the plateau gave them (1: unreduced).
        kept = active.multipliers or [1.0] * slots
        active.multipliers = list(frozen[:slots]) + list(kept[len(frozen) : slots])
        active.floors = [0.0] * slots  # the cooldown ends at `to * v`, below the floor or not

    def _freeze_if_due(self) -> None:
        run, branch = self._run, self._branch
        if (
            run is not None
            and branch is not None
            and branch.frozen is None
            and self._plateau() is not None
            and run.now() >= branch.start
        ):
            self._freeze(run, branch, write=True)

    # ----------------------------------------------------------------- Lightning hooks
    # A schedule base is applied by this callback's own hooks. A plateau base takes its decisions
    # in its hooks (run on this fit's run) until the cooldown starts, and none after.
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        plateau = self._deciding()
        if plateau is not None:
            plateau.on_validation_start(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        plateau = self._deciding()
        if plateau is not None:
            plateau.on_validation_end(trainer, pl_module)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        plateau = self._deciding()
        if plateau is None or self._loaded_state is not None:
            super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
            if plateau is None:
                return
        else:
            plateau.on_train_batch_start(trainer, pl_module, batch, batch_idx)  # a decision due after the last batch
        self._freeze_if_due()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        plateau = self._deciding()
        if plateau is None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        else:
            plateau.on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        plateau = self._deciding()
        if plateau is None:
            super().on_train_epoch_start(trainer, pl_module)
            return
        plateau.on_train_epoch_start(trainer, pl_module)
        self._freeze_if_due()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        plateau = self._deciding()
        if plateau is None:
            super().on_train_epoch_end(trainer, pl_module)
        else:
            plateau.on_train_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        plateau = self._deciding()
        if plateau is not None:
            plateau.on_train_end(trainer, pl_module)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().teardown(trainer, pl_module, stage)
        self.base.teardown(trainer, pl_module, stage)  # what the base keeps per fit (a torch scheduler's stand-in)

    def _close_run(self) -> None:
        run = self._run
        super()._close_run()  # the record first: it holds the plateau base's state
        plateau = self._plateau()
        if plateau is not None and run is not None and plateau._run is run:
            plateau._run = None

    # ----------------------------------------------------------------- preview
    @contextmanager
    def _resumed_at(self, resume_at: int | None) -> Iterator[None]:
        step = None if resume_at is None else check_int("resume_at", resume_at, minimum=0)
        token = _RESUME_AT.set(step)
        try:
            yield
        finally:
            _RESUME_AT.reset(token)

    def simulate(self, num_events: int, *args: Any, resume_at: int | None = None, **kwargs: Any) -> np.ndarray:
        """Values at events ``0 .. num_events - 1``, as the base class's (plateau reductions are not known ahead).

        ``resume_at``: with ``start="resume"``, the step the fit resumes at (the cooldown's start).

        Examples:
            >>> import lightning_schedulers as ls
            >>> from lightning_schedulers.schedules import Constant
            >>> cd = Cooldown(ls.ScheduleCallback(Constant(1.0)), start="resume", length=2)
            >>> cd.simulate(4, resume_at=1).tolist()
            [1.0, 1.0, 0.5, 0.0]
        """
        with self._resumed_at(resume_at):
            return super().simulate(num_events, *args, **kwargs)

    def plot(self, num_events: int, *args: Any, resume_at: int | None = None, **kwargs: Any) -> Axes:
        """Plot :meth:`simulate` (``resume_at`` as there)."""
        with self._resumed_at(resume_at):
            return super().plot(num_events, *args, **kwargs)

    def _columns(self, num_events: int, *args: Any, **kwargs: Any) -> tuple[list[str], list[np.ndarray], list[str]]:
        if self.start == "resume" and _RESUME_AT.get() is None and num_events > 0:
            raise ValueError(
                f"{self!r}: start='resume' starts the cooldown at the step the fit resumes at, which a preview does "
                "not know; give it: simulate(n, resume_at=step) or plot(n, resume_at=step) (ls.preview and the "
                "command line need `start` as a step or a fraction)"
            )
        return super()._columns(num_events, *args, **kwargs)


def _frozen_multipliers(active: Active, start: int) -> list[float]:
    """The multipliers that, without a floor, give each slot the value the plateau gave it at ``start``.

    That value is ``v = apply_reduction(raw, m, floor)`` (``raw``: the schedule's value at ``start``,
    where the cooldown's factor is exactly 1). The multiplier kept is ``m`` where ``v`` is
    ``raw * m``, else ``v / raw`` (the floor held it); each later value is then ``raw(t) * m``,
    the cooldown of ``v``.
    """
    multipliers = active.multipliers or [1.0] * len(active.schedules)
    floors = active.floors or [0.0] * len(active.schedules)
    frozen = []
    for j, m in enumerate(multipliers):
        raw = active.raw_value(j, start)
        held = apply_reduction(raw, m, floors[j])
        exact = held == raw * m or raw == 0.0 or not math.isfinite(held / raw)
        frozen.append(m if exact else held / raw)
    return frozen


def _cool_all(schedules: list[Schedule], *, start: int, length: int, shape: str, to: float) -> list[Schedule]:
    """Each schedule cooled down from ``start``; a constant times a schedule stays one (a shared block per binding)."""
    done: dict[int, Schedule] = {}

    def cool(schedule: Schedule) -> Schedule:
        key = id(schedule)
        if key not in done:
            if isinstance(schedule, Scale):
                done[key] = Scale(cool(schedule.schedule), schedule.factor)
            else:
                done[key] = CooledSchedule(schedule, start, length, shape, to)  # type: ignore[arg-type]
        return done[key]

    return [cool(s) for s in schedules]


def _cool_built(
    builder: Callable[[list[float]], list[Schedule]],
    cool: Callable[[list[Schedule]], list[Schedule]],
    bases: list[float],
) -> list[Schedule]:
    return cool(list(builder(bases)))


def _without_branch(extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """The base's part of a checkpoint's ``extra`` (all of it, for a checkpoint of the base alone)."""
    return None if extra is None else {k: v for k, v in extra.items() if k != "cooldown"}


def _branch_problem(saved: Any) -> str | None:
    """What is wrong with a checkpoint's ``extra["cooldown"]``, or ``None``."""
    if saved is None:
        return None
    if not isinstance(saved, dict):
        return f"extra['cooldown'] is {saved!r}"

    def count(value: Any, minimum: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= minimum

    frozen = saved.get("frozen")
    if (
        not count(saved.get("start"), 0)
        or not count(saved.get("length"), 1)
        or saved.get("shape") not in SHAPES
        or not isinstance(saved.get("to"), float)
        or not (
            frozen is None
            or (isinstance(frozen, list) and all(isinstance(m, float) and math.isfinite(m) and m >= 0 for m in frozen))
        )
    ):
        return f"extra['cooldown'] is {saved!r}"
    return None
