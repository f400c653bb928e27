"""One fit of one callback: its clock, its bindings, its engine, its checkpoint record.

A :class:`Run` is made when a fit starts (``on_train_start``, or ``callback.bind(...)`` for a
hand-written loop) and dropped when it ends, so a reused callback instance needs no reset code:
everything a fit learns lives here. It knows no Trainer; what it needs from its host (the
optimizers, the module, the clock, the fit's length, logging, the checks of other callbacks) it
asks through the small :class:`Host` interface, which the Trainer adapter
(:class:`~lightning_schedulers.lightning.host.TrainerHost`) and the loop adapter
(:class:`~lightning_schedulers.loops.LoopHost`) implement.

How a value flows: the host's clock reads ``t``; :class:`~lightning_schedulers.engine.writer.Engine`
reads row ``t - offset`` of each binding's block (or evaluates the schedule) and writes it into the
bound param-group dicts or module attributes; every ``log_every`` events it reports the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from lightning_schedulers.engine.bindings import Active, Binding
from lightning_schedulers.engine.clocks import Clock, UnitClock
from lightning_schedulers.engine.state import STATE_VERSION, Priors, close, stored_priors, stored_replans
from lightning_schedulers.engine.writer import Engine
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.replan import replan
from lightning_schedulers.targets import BoundAttribute, BoundPattern, BoundTarget, ParamGroup

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback

__all__ = ["Host", "Run"]


class Host(Protocol):
    """What a run asks of the loop that drives it (the Trainer, or a hand-written loop)."""

    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]:
        """The optimizers now (their param groups are the targets)."""

    @property
    def module(self) -> Any:
        """The root object of attribute targets (``None``: attribute targets cannot bind)."""

    log_every: int
    """Log every this many events; 0 never."""

    optimizers_holder: tuple[object, str]
    """``(object, attribute)``: the attribute holds the optimizers' list, a new one when they are replaced.

    Read as ``getattr(object, attribute)`` on the hot path (no call of the host's own).
    """

    def make_clock(self, run: Run, state: dict[str, Any] | None) -> Clock:
        """The clock of this fit, restored from ``state`` where it counts itself."""

    def fit_length(self, callback: SchedulerCallback) -> int:
        """The fit's length in the callback's events (raises a clear error when unknown)."""

    def resumed_without_state(self) -> bool:
        """Whether the fit resumes from a checkpoint that holds no state for this callback."""

    def check_setup(self, run: Run) -> None:
        """Refuse a setup in which something else drives the same targets (at the start and every rebind)."""

    def kept(self, actives: list[Active]) -> list[Active]:
        """``actives`` less those another component has taken over (the run stops writing them)."""

    def monitored_labels(self, actives: Sequence[Active]) -> frozenset[str]:
        """Labels another component logs already (not logged twice)."""

    def inside_accumulation_window(self) -> bool:
        """Whether a value changed now must wait for the coming optimizer step (gradient accumulation)."""

    def training_ends(self) -> bool:
        """Whether no further step will train."""

    def write_changed(self, run: Run) -> None:
        """Write the values of the clock's reading again now that they changed (a plateau reduction)."""

    def broadcast(self, value: Any) -> Any:
        """Rank zero's ``value`` on every rank (decisions on a metric are taken alike everywhere)."""

    def log_step(self) -> int:
        """The x-axis value logged rows and history rows carry."""

    def epoch(self) -> int:
        """The current epoch (history rows)."""

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Send ``metrics`` to the loggers."""

    def warn(self, message: str) -> None:
        """Warn (once per process or on rank zero, as the host does)."""

    def info(self, message: str) -> None:
        """Say something worth knowing, not a problem."""


class Run:
    """One fit of ``callback`` driven by ``host``; ``state`` is the checkpoint's record, if resumed.

    Nothing is written until :meth:`write_initial`, so that the host can finish its own setup.
    """

    def __init__(self, callback: SchedulerCallback, host: Host, state: dict[str, Any] | None) -> None:
        self.callback = callback
        self.host = host
        self.who = type(callback).__name__
        self.warned: set[str] = set()
        self.parts: dict[str, Any] = {}  # per-fit state of a family class (plateau decisions), dropped with the run
        on_resume = callback.on_resume
        extra = state.get("extra") if state is not None else None
        restored_extra = extra if isinstance(extra, dict) else None
        if state is not None:
            self._check_resumed_clock(state)
        # Resumed from a checkpoint that holds no state for this callback (written without it, by
        # Lightning's own scheduler path, or under another state key): the targets may already
        # hold scheduled values.
        self.stateless_resume = state is None and host.resumed_without_state()
        self.offset = 0
        self.keep_lengths = state is None or on_resume in ("continue", "replan")
        self.events_total: int | None = None
        self._measuring = True  # the fit's length may be read from the host (only while starting)
        self.engine: Engine | None = None
        self._watch: tuple[tuple[torch.optim.Optimizer, list[dict[str, Any]], int], ...] = ()
        self._nested: tuple[BoundAttribute, ...] = ()
        self._token: object = None
        self._holder = host.optimizers_holder
        self.clock = host.make_clock(self, state)
        self.source, self.field = self.clock.source, self.clock.field
        self.units = self.clock if isinstance(self.clock, UnitClock) else None  # fed by the host batch by batch
        self.epochly = callback.interval == "epoch"  # read on the hot path, so kept as a flag
        if state is not None:
            self.offset = int(state.get("offset", 0))
        if (state is not None or self.stateless_resume) and on_resume == "restart":
            self.offset = self.clock.read()  # count again from the step (or epoch) of the resume
        stored = state.get("events_total") if state is not None and self.keep_lengths else None
        self.events_total = stored if isinstance(stored, int) else None
        # Where the plan changed length in earlier fits: [(event, length planned before it), ...].
        self.replans: list[tuple[int, int]] = stored_replans(state) if self.keep_lengths else []
        self._restored = restored_extra
        self._replan_notes: list[str] = []  # what planning again did, said once when the fit starts
        callback.history = []
        callback._run = self  # the family's hooks below read lengths and resume flags from it
        try:
            if self.events_total is not None:
                self._plan_again(host)
            callback._resolve(host, restored_extra)
            host.check_setup(self)
            keys = [b.target.describe() for b in callback._bindings()]
            actives = self.host.kept(self.bind(stored_priors(state, keys), resumed=state is not None))
            self._watch_targets(actives)
            self.engine = Engine(
                actives,
                host,
                who=self.who,
                interval=callback.interval,
                log_every=host.log_every,
                history=callback.history if callback.save_history else None,
                history_after_events=callback._history_after_events,
                horizon=callback._horizon,
            )
            self.engine.muted = host.monitored_labels(actives)
            if self.units is not None:  # blocks at the stride of the unit clock's moves; logging by steps
                self.engine.count_steps_with(self.units)
            callback._after_bind(restored_extra)
            if stored is not None and self.events_total is not None and on_resume == "continue":
                self._warn_if_length_changed(int(stored))
            for note in self._replan_notes[:1]:
                host.info(note)
        except BaseException:
            self.close()
            callback._run = None
            raise
        self._measuring = False  # resolved by now: no more reads of the host's lengths

    # ------------------------------------------------------------------ the clock
    def now(self) -> int:
        """The schedule's event index now: the clock's reading less the restart offset."""
        return self.clock.read() - self.offset

    def total(self) -> int:
        """The fit's length in events, against which fractions of training resolve."""
        if self.events_total is None:
            if not self._measuring:
                raise ValueError(
                    f"{self.who}: a duration is a fraction of training, and the fit's length is only known when the "
                    "fit starts; preview with simulate(num_events)"
                )
            self.events_total = self.host.fit_length(self.callback) - self.offset
        return self.events_total

    @property
    def lengths_from_host(self) -> bool:
        """Whether a length was resolved from the host (the fit's length), not given in events."""
        return self.events_total is not None

    def _check_resumed_clock(self, state: dict[str, Any]) -> None:
        """A checkpoint that counted other events cannot continue: say so, and what to do."""
        cb = self.callback
        before = (state.get("interval", cb.interval), state.get("clock", cb.clock))
        if before != (cb.interval, cb.clock) and cb.on_resume != "restart":
            raise ValueError(
                f"{self.who}: the checkpoint was written with interval={before[0]!r}, clock={before[1]!r} "
                f"and this callback has interval={cb.interval!r}, clock={cb.clock!r}: the stored position and "
                "lengths count other events. Resume with the original settings, or pass on_resume='restart' to "
                "start the schedule again from the resumed step over the rest of the fit."
            )

    def _plan_again(self, host: Host) -> None:
        """A resumed fit of another length (``on_resume="replan"``): plan for it from the event of the resume.

        :meth:`bind` then joins each earlier plan with the plan for this fit's length (see
        :func:`~lightning_schedulers.schedules.replan.replan`).
        """
        planned = self.events_total
        assert planned is not None
        if self.callback.on_resume != "replan":
            return
        try:
            length = host.fit_length(self.callback) - self.offset
        except ValueError:
            return  # the fit's length is not known: keep the plan
        if length != planned and length >= 1:
            self.replans.append((max(self.now(), 0), planned))
            self.events_total = length

    def _replanned(self, key: str, bases: list[float], schedules: list[Schedule]) -> list[Schedule]:
        """``schedules`` (the plan for this fit's length) joined with the earlier plans of ``key``.

        A family resolves its lengths against ``events_total`` (eagerly in ``_resolve``, or lazily
        when a binding builds its schedules): each earlier plan is resolved again under its length.
        """
        cb, current = self.callback, self.events_total
        assert current is not None
        earlier: list[tuple[int, int, list[Schedule]]] = []
        try:
            for at, total in self.replans:
                self.events_total = total
                cb._resolve(self.host, self._restored)
                binding = next((b for b in cb._bindings() if b.target.describe() == key), None)
                if binding is None:
                    return schedules  # the target was not scheduled then
                plan = cb._resolved(binding.resolve(bases)[0])
                if len(plan) != len(schedules):
                    return schedules
                earlier.append((at, total, plan))
        finally:
            self.events_total = current
            cb._resolve(self.host, self._restored)
        out, note = [], ""
        for j, schedule in enumerate(schedules):
            joined = earlier[0][2][j]
            for i, (at, total, _) in enumerate(earlier):
                later = earlier[i + 1] if i + 1 < len(earlier) else None
                new = later[2][j] if later is not None else schedule
                new_total = later[1] if later is not None else current
                joined, note = replan(joined, new, at, total, new_total)
            out.append(joined)
        if not self._replan_notes and self.replans and cb.on_resume == "replan":
            at, planned = self.replans[-1]
            if at == max(self.now(), 0):  # planned again in this fit: say so once
                units, unit = _UNITS["epoch" if cb.interval == "epoch" else cb.clock]
                self._replan_notes.append(
                    f"{self.who}: this fit is {current} {units} long and the checkpoint planned "
                    f"{planned}; from {unit} {at} the schedule of {key} {note} (on_resume='replan'; 'continue' "
                    "keeps the old plan, 'rescale' sizes it to this fit at the same position, 'restart' starts it "
                    "again)"
                )
        return out

    def _warn_if_length_changed(self, stored: int) -> None:
        try:
            now = self.host.fit_length(self.callback) - self.offset
        except ValueError:
            return
        interval = self.callback.interval
        if now != stored:
            self.host.warn(
                f"{self.who}: this fit is {now} {interval}s long, but the resumed schedule was sized "
                f"for {stored} (on_resume='continue' keeps that length, so past it the last value holds). Pass "
                "on_resume='rescale' to size it to the new fit (same position, new length), or on_resume='restart' "
                "to run it again over the rest of the fit."
            )

    # ------------------------------------------------------------------ writing
    @property
    def actives(self) -> list[Active]:
        """The bound targets this run writes."""
        assert self.engine is not None  # set in __init__
        return self.engine.actives

    def write_initial(self) -> None:
        """Write the values for the clock's reading now (the start of the fit, or the resumed step)."""
        assert self.engine is not None
        self.engine.last_t = -1
        self.engine.apply(self.now(), force_log=True, initial=True)

    def held(self) -> int:
        """The event whose values the targets hold now (the last written; the clock's reading before any write).

        It runs ahead of the clock where the host writes an event before its clock moves (Lightning
        steps epoch-interval schedules after an epoch's last batch, before the epoch counter moves).
        """
        engine = self.engine
        return engine.last_t if engine is not None and engine.last_t >= 0 else max(self.now(), 0)

    def write_now(self, *, log_at_end: bool = False) -> None:
        """Write the values of the event the targets hold again (after a change of multipliers, say), logged."""
        assert self.engine is not None
        self.engine.apply(self.held(), force_log=True, log_at_end=log_at_end)

    def warn_once(self, key: str, message: str) -> None:
        """Warn with ``message`` the first time ``key`` comes up in this fit."""
        if key not in self.warned:
            self.warned.add(key)
            self.host.warn(message)

    # ------------------------------------------------------------------ binding
    def bind(self, priors: Priors | None, *, resumed: bool) -> list[Active]:
        """Bind every target; captured start values come from ``priors`` where they exist.

        ``priors`` maps a target's description to what an earlier binding of it captured (the
        checkpoint's, or this fit's before a rebind) and how many slots it had. A slot beyond those
        (a param group added since) gets an anchored start value; a target the checkpoint lacks is
        an error unless ``on_resume="restart"`` (its current value may already be a scheduled one).
        """
        cb, host = self.callback, self.host
        bindings = cb._bindings()
        if cb.name is not None and len(bindings) != 1:
            raise ValueError(
                f"`name`={cb.name!r} names a single target, but this callback drives {len(bindings)}; "
                "set `name` on each ParamGroup/Attribute instead"
            )
        t = max(self.now(), 0)
        active: list[Active] = []
        missing: list[str] = []
        for binding in bindings:
            key = binding.target.describe()
            prior = priors.get(key) if priors is not None else None
            bound = self._bind_target(binding)
            current = bound.read()
            entries = len(binding.schedules) if binding.per_slot else binding.slots
            if entries is not None and len(current) > entries and prior is not None and prior[1] <= entries:
                # Groups added during the fit beyond a per-group list: they keep their values.
                assert isinstance(binding.target, ParamGroup)
                self.warn_once(
                    f"unscheduled:{key}:{len(current)}",
                    f"{self.who}: {key} now has {len(current)} param groups, but its schedule is a "
                    f"per-group list of {entries}; group(s) {list(range(entries, len(current)))} are not scheduled "
                    "and keep their values. Give a single schedule for every group, or schedule them with another "
                    "callback (param_group_index=...).",
                )
                bound = binding.target.bind(host.optimizers, limit=entries)
                current = current[:entries]
            captured: list[float] | None = None
            if binding.needs_bases:
                stored = prior[0] if prior is not None else None
                if stored is None:
                    if resumed and priors and cb.on_resume != "restart":
                        missing.append(key)
                        continue
                    captured = current
                    if self.stateless_resume and cb.on_resume != "restart":
                        captured = cb._stateless_bases(binding, bound, current, t)
                elif len(stored) > len(current):
                    raise ValueError(
                        f"{self.who}: {key} had {len(stored)} param group(s) when its start values were "
                        f"captured, and has {len(current)} now; restore the optimizer's param groups, or pass "
                        "on_resume='restart' to capture them again"
                    )
                else:
                    captured = list(stored) + anchored(binding, list(stored), current[len(stored) :], t)
            schedules, scale = binding.resolve(captured if captured is not None else current)
            schedules = cb._resolved(schedules)
            if self.replans:
                schedules = self._replanned(key, captured if captured is not None else current, schedules)
            schedules = cb._finished(key, schedules)
            if cb.name is not None:
                bound.labels = bound.named(cb.name) if isinstance(bound, BoundPattern) else named(cb.name, len(current))
            active.append(Active(bound, schedules, scale, captured, key))
        if missing:
            stored_keys = sorted(priors or {})
            raise ValueError(
                f"{self.who}: the checkpoint holds no start value for {missing} (it has {stored_keys}); "
                "the value such a target holds now may already be a scheduled one, and capturing it would apply the "
                "schedule twice. Resume with the callback's original targets, or pass on_resume='restart' to start "
                "the schedules again from the values the targets hold now."
            )
        return active

    def _bind_target(self, binding: Binding) -> BoundTarget:
        target, host = binding.target, self.host
        if isinstance(target, ParamGroup):
            return target.bind(host.optimizers)
        if host.module is None:
            raise ValueError(
                f"{self.who}: {target.describe()} is a module attribute, and no module was given; pass module=..."
            )
        key = (id(host.module), target.path)
        created = self.callback._created
        bound = target.bind(host.module, created_by_us=key in created)
        if target.create_new:
            created.add(key)
        return bound

    def keep(self, actives: list[Active]) -> None:
        """Write (and watch) only ``actives`` from now on: another component took the rest over."""
        assert self.engine is not None
        self.engine.drop(actives)
        self._watch_targets(actives)

    def _watch_targets(self, actives: list[Active]) -> None:
        """Remember what :meth:`changed` compares: optimizers, their group lists and lengths, attribute parents."""
        optimizers: list[Any] = []
        for a in actives:
            optimizer = getattr(a.bound, "optimizer", None)
            if optimizer is not None and all(optimizer is not o for o in optimizers):
                optimizers.append(optimizer)
        self._watch = tuple((o, o.param_groups, len(o.param_groups)) for o in optimizers)
        self._nested = tuple(a.bound for a in actives if isinstance(a.bound, BoundAttribute) and a.bound.nested)
        self._token = getattr(*self.host.optimizers_holder) if optimizers else None

    def changed(self) -> bool:
        """Whether the live objects changed since binding (cheap: identity and length comparisons).

        An optimizer recreated, param groups added or replaced by ``optimizer.load_state_dict``,
        an attribute's parent replaced.
        """
        watch = self._watch
        if watch:
            if getattr(*self._holder) is not self._token:
                return True
            for optimizer, groups, count in watch:
                if optimizer.param_groups is not groups or len(groups) != count:
                    return True
        # A loop, not any(): no generator object on the hot path.
        for attribute in self._nested:  # noqa: SIM110
            if attribute.parent_replaced():
                return True
        return False

    def rebind(self) -> list[Active]:
        """The setup changed during the fit (groups added, an optimizer recreated): bind again, write now.

        Returns the bindings before the change.
        """
        assert self.engine is not None
        previous = self.engine.actives
        priors = {a.key: (a.captured, len(a.schedules)) for a in previous}
        self.host.check_setup(self)
        self.keep(self.host.kept(self.bind(priors, resumed=False)))
        self._check_recreated(previous)
        self.engine.muted = self.host.monitored_labels(self.engine.actives)
        self.callback._after_bind(None, previous)
        self.engine.last_t = -1
        self.engine.apply(self.now(), force_log=True)
        return previous

    def _check_recreated(self, previous: list[Active]) -> None:
        """A new optimizer whose values are neither the start values nor the last ones written: say so.

        An optimizer built again from ``configure_optimizers`` holds the configured values (the
        captured start values), one that copied the old state holds the last values written; other
        values (another optimizer, another lr) are not what the schedule scales.
        """
        before = {a.key: a for a in previous}
        for active in self.actives:
            old = before.get(active.key)
            optimizer = getattr(active.bound, "optimizer", None)
            if old is None or active.captured is None or optimizer is getattr(old.bound, "optimizer", None):
                continue
            now = active.bound.read()[: len(old.captured or [])]
            known = (old.captured or [])[: len(now)], old.bound.read()[: len(now)]  # the old object holds the last
            if not any(close(now, values) for values in known):
                self.warn_once(
                    f"recreated:{active.key}",
                    f"{self.who}: the optimizer was replaced during the fit and its {active.key} values "
                    f"{now} are neither the schedule's start values {known[0]} nor the last values written "
                    f"{known[1]}; the schedule keeps scaling its start values {known[0]} and overwrites them. To "
                    "schedule from the new values, start a new fit (or resume with on_resume='restart').",
                )

    # ------------------------------------------------------------------ state
    def record(self) -> dict[str, Any]:
        """The checkpoint record of this fit now: plain values, no reference to a live object."""
        cb = self.callback
        actives = self.engine.actives if self.engine is not None else []
        return {
            "version": STATE_VERSION,
            "config": cb._config(),
            "interval": cb.interval,
            "clock": cb.clock,
            "targets": [a.key for a in actives],
            "bases": [None if a.captured is None else list(a.captured) for a in actives],
            "slots": [len(a.schedules) for a in actives],
            "offset": self.offset,
            "events_total": self.events_total,
            "replans": [[at, total] for at, total in self.replans],
            "steps": self.clock.saved(),
            "units_pending": self.units.pending if self.units is not None else None,
            "extra": cb._extra_state(),
        }

    def close(self) -> None:
        """Release the live objects (hooks, optimizers, the host)."""
        clock = getattr(self, "clock", None)
        if clock is not None:
            clock.close()
        self._watch, self._nested, self._token = (), (), None
        if self.engine is not None:
            self.engine.disarm()


_UNITS = {
    "epoch": ("epochs", "epoch"),
    "optimizer": ("steps", "step"),
    "batch": ("batches", "batch"),
    "samples": ("samples", "sample"),
    "tokens": ("tokens", "token"),
}


def named(name: str, slots: int) -> list[str]:
    """The labels of a callback's ``name=`` for its single target's ``slots`` param groups."""
    return [name] if slots == 1 else [f"{name}/pg{j + 1}" for j in range(slots)]


def anchored(binding: Binding, known: list[float], added: list[float], t: int) -> list[float]:
    """Start values for slots (param groups) that appeared at event ``t`` holding ``added``.

    Each is chosen so that the schedule gives, at ``t``, the value the group was added with, and
    it follows the schedule's shape from there (torch's chainable schedulers do the same: they
    multiply whatever lr a group holds). The schedules this package builds are affine in a
    group's start value, so two evaluations find it. Where the start value does not matter (an
    absolute schedule) or cannot be solved for (the schedule is 0 there), the added value is used.
    """
    if not added:
        return []
    n = len(known)

    def values_with(trial: float) -> list[float]:
        schedules, scale = binding.resolve(known + [trial] * len(added))
        return [schedules[j].value(t) * (1.0 if scale is None else scale[j]) for j in range(n, n + len(added))]

    try:
        zero, one = values_with(0.0), values_with(1.0)
    except (ValueError, ZeroDivisionError):
        return list(added)
    out = []
    for value, a, b in zip(added, zero, one, strict=True):
        slope = b - a
        out.append((value - a) / slope if slope != 0.0 and math.isfinite(slope) else value)
    return out
