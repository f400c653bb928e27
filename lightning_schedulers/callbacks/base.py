"""Lightning callbacks: read the clock, ask the schedule, write the target, log.

The clock (see the documentation's Concepts page):

* ``interval="step"``: ``t = trainer.global_step``, the number of optimizer steps taken. While
  step ``t`` trains, every target holds ``f(t)``. Values are written in ``on_train_start``, then
  in ``on_train_batch_end`` as soon as ``global_step`` has moved (and, should anything have moved
  it since, in ``on_train_batch_start``): gradient accumulation, which runs several batches per
  optimizer step, writes once per step.
* ``interval="epoch"``: ``t = trainer.current_epoch``. Values are written in ``on_train_start``
  (``f(current_epoch)``) and in ``on_train_epoch_end`` (``f(current_epoch + 1)``, for the next
  epoch).

``on_train_start`` runs after Lightning restored a checkpoint, so a resumed fit overrides the
restored optimizer values with the schedule's value at the restored clock. The position is never
stored: it is derived from Lightning's own counters (less the offset of an ``on_resume="restart"``).
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import (
    BackboneFinetuning,
    Callback,
    GradientAccumulationScheduler,
    LearningRateMonitor,
    StochasticWeightAveraging,
)
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int, check_sequence
from lightning_schedulers.callbacks.binding import BLOCK, Active, Binding
from lightning_schedulers.plateau import apply_reduction
from lightning_schedulers.schedules.base import Schedule, callable_name
from lightning_schedulers.schedules.durations import TrainingFraction
from lightning_schedulers.targets import BoundAttribute, BoundParamGroups, BoundTarget, ParamGroup, Target

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SchedulerCallback", "fit_length"]

# simulate(n) resolves fractions of training against n, for the callback and everything it composes.
_PREVIEW_TOTAL: ContextVar[int | None] = ContextVar("lightning_schedulers_preview_total", default=None)

INTERVALS = ("step", "epoch")
CLOCKS = ("optimizer", "batch")
STATE_VERSION = 2
RESUME_POLICIES = ("continue", "restart", "rescale")
ScheduleSpec = Schedule | Sequence[Schedule]
TargetSpec = Target | str


class _StepCounter:
    """The steps one optimizer has taken (manual optimization), counted by a step post-hook."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


class _GlobalStep:
    """``trainer.global_step`` behind the counter interface (a fallback for other Lightning versions)."""

    def __init__(self, trainer: pl.Trainer) -> None:
        self._trainer = trainer

    @property
    def completed(self) -> int:
        return int(self._trainer.global_step)


class SchedulerCallback(Callback):
    """Base of every scheduler callback: binds schedules to targets and applies them on a clock.

    Subclasses provide :meth:`_bindings`. Everything else (binding, the clock, logging, checkpoint
    state, ``simulate`` and ``plot``) lives here, once.

    Args:
        interval: ``"step"`` (the clock counts steps, see ``clock``) or ``"epoch"``
            (``trainer.current_epoch``).
        clock: what ``interval="step"`` counts: ``"optimizer"`` (default), the steps of the
            callback's own optimizer (``trainer.global_step`` under automatic optimization; under
            manual optimization, the ``step()`` calls of that optimizer alone), or ``"batch"``, the
            training batches of the fit.
        name: logging name; only for a callback that drives a single target.
        save_history: keep in :attr:`history` one row per event, as ignite's ``param_history``:
            the values each step (or epoch) trained with, the last write before it counting; for
            ignite's state schedulers, the values written after each event completed.
        logging_enabled: log applied values through ``trainer.loggers``.
        on_resume: what a fit resumed from a checkpoint does: ``"continue"`` (the position comes
            from Lightning's restored clock, lengths resolved from the trainer are the stored
            ones), ``"restart"`` (the schedule starts again at the step or epoch of the resume,
            over what remains of the fit), or ``"rescale"`` (keep the position, resolve lengths
            from the trainer again, for a fit whose total changed).

    """

    # The fast path of on_train_batch_end (see _arm_fast): per param group and key, (the group,
    # the key, its block column, the block's start); the events it may write; the next that logs.
    _fast: tuple[tuple[dict[str, Any], str, list[float], int], ...]
    _fast_from: int
    _fast_until: int
    _fast_log_at: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The whole signature, the keyword arguments passed on to the bases included, for help(),
        # Jupyter, jsonargparse and the argument check in __new__ (type checkers read the
        # **kwargs: Unpack[...] annotations instead, see callbacks/options.py).
        cls.__signature__ = _public_signature(cls)  # type: ignore[attr-defined]

    def __new__(cls, *args: Any, **kwargs: Any) -> SchedulerCallback:
        if args or kwargs:  # not for unpickling or copying, which call __new__ with no arguments
            _check_arguments(cls, args, kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        *,
        interval: str = "step",
        clock: str = "optimizer",
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: str = "continue",
    ) -> None:
        self.interval = check_choice("interval", interval, INTERVALS)
        self.clock = check_choice("clock", clock, CLOCKS)
        self.on_resume = check_choice("on_resume", on_resume, RESUME_POLICIES)
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"`name` must be a non-empty str or None, got {name!r}")
        self.name = name
        self.save_history = check_bool("save_history", save_history)
        self.logging_enabled = check_bool("logging_enabled", logging_enabled)
        self.history: list[dict[str, float]] = []
        self._active: list[Active] = []
        self._last_t = -1
        self._log_every = 0
        self._loaded_state: dict[str, Any] | None = None
        self._created: set[tuple[int, str]] = set()
        # Events from which the schedule has run out (it holds its last value); warned once.
        self._horizon: int | None = None
        self._horizon_warned = False
        # The clock value the schedule counts from (set by on_resume="restart"); kept in checkpoints.
        self._offset = 0
        self._stateless_resume = False
        # Whether lengths resolved in an earlier run of this fit (checkpoint state) are to be kept.
        self._keep_lengths = True
        # The fit's length in events, against which fractions of training resolve (checkpointed),
        # how to read it from the trainer, and the callback whose length applies (a composite's).
        self._events_total: int | None = None
        self._length_source: Callable[[], int] | None = None
        self._length_owner: SchedulerCallback = self
        self._reset_fit()

    def _reset_fit(self) -> None:
        """Forget everything a previous fit left, so that a reused instance acts as a fresh one."""
        self.history = []
        self._horizon_warned = False
        self._warned: set[str] = set()
        # The live clock (set when a fit starts): an object and the field of it to read.
        self._clock_source: Any = None
        self._clock_field = ""
        self._counter: _StepCounter | None = None
        self._hook: Any = None
        self._hooked: torch.optim.Optimizer | None = None
        self._trainer: pl.Trainer | None = None
        # What the hot path watches for a changed setup: the trainer's optimizer list and, per
        # bound optimizer, its param-group list and the length it had.
        self._optimizers_seen: list[torch.optim.Optimizer] | None = None
        self._watch: tuple[tuple[torch.optim.Optimizer, list[dict[str, Any]], int], ...] = ()
        self._nested: tuple[BoundAttribute, ...] = ()  # attributes whose parent can be replaced
        self._strategy: Any = None
        # A change decided between two micro-batches of an accumulation window, applied at the step.
        self._deferred_at: int | None = None
        self._muted: frozenset[str] = frozenset()  # labels a LearningRateMonitor logs (see _mute_monitored)
        self._handover: int | None = None  # the epoch StochasticWeightAveraging takes the lr over
        self._handed_over = False  # whether it has (the lr of the first optimizer is no longer ours)
        # Manual optimization with lengths from the trainer: (batch progress, batches, steps) at the fit's start.
        self._rate_check: tuple[Any, int, int] | None = None
        self._pending = False  # whether either of the two above needs looking at after a batch
        self._disarm()

    # ----------------------------------------------------------------- subclass interface
    def _bindings(self) -> tuple[Binding, ...]:
        """The bindings this callback applies."""
        raise NotImplementedError

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        """Hook for subclasses that need the trainer (total steps) before binding.

        ``restored`` is what :meth:`_extra_state` returned when the checkpoint was written.
        """

    def _extra_state(self) -> dict[str, Any]:
        """Plain values a subclass resolved at the start of the fit, kept in the checkpoint."""
        return {}

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        """What is wrong with a checkpoint's ``extra`` state for this class, or ``None``."""
        return None

    def _after_bind(self, restored: dict[str, Any] | None, previous: list[Active] | None = None) -> None:
        """Hook run once the targets are bound, before the first value is written.

        ``previous`` holds the bindings of the same fit before a rebind (groups added, an
        optimizer recreated), whose per-slot state carries over.
        """

    def _drives(self, other: SchedulerCallback) -> bool:
        """Whether ``other`` is applied by this callback (a plateau reduction's base)."""
        return False

    #: Whether ``history`` keeps the values written after each event (ignite's state schedulers,
    #: read once an event completes) rather than the value each event trained with.
    _history_after_events: ClassVar[bool] = False

    #: Constructor arguments that every class of a family shares; ``repr`` shows them separately.
    _COMMON_ARGUMENTS: ClassVar[frozenset[str]] = frozenset(
        ("interval", "clock", "optimizer", "param_group_index", "name", "save_history", "logging_enabled", "on_resume")
    ) | {"param_name", "create_new"}

    def _arguments(self) -> dict[str, Any]:
        """This class's own constructor arguments and their validated values, for ``repr`` and the fingerprint.

        Derived once from the signature of ``__init__``: every argument is kept as the attribute of
        the same name, so a class does not list them again.
        """
        return {name: getattr(self, name) for name in _own_parameters(type(self))}

    def _describe_arguments(self) -> str:
        return ", ".join(f"{k}={_describe(v)}" for k, v in self._arguments().items())

    def _config(self) -> str:
        """A description of the configuration, stored in checkpoints to detect a changed setup."""
        return repr(self)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            rank_zero_warn(message)

    # ----------------------------------------------------------------- Lightning hooks
    @property
    def state_key(self) -> str:
        # Lightning reads this around every hook call (for its profiler): compute it once.
        key = self.__dict__.get("_state_key")
        if key is None:
            targets = [b.target.describe() for b in self._bindings()]
            key = self._generate_state_key(targets=targets, interval=self.interval)
            self.__dict__["_state_key"] = key
        return key

    def _durations_total(self) -> int:
        """The fit's length in events, for fractions of training (``num_events`` in ``simulate``)."""
        preview = _PREVIEW_TOTAL.get()
        if preview is not None:
            return preview
        if self._length_owner is not self:
            return self._length_owner._durations_total()
        if self._events_total is None:
            if self._length_source is None:
                raise ValueError(
                    f"{type(self).__name__}: a duration is a fraction of training, and the fit's length is only "
                    "known when the fit starts; preview with simulate(num_events)"
                )
            self._events_total = self._length_source()
        return self._events_total

    def _dur(self, value: int | TrainingFraction) -> int:
        """A duration in events: a fraction of training resolved against the fit's length."""
        return value.resolve(self._durations_total()) if isinstance(value, TrainingFraction) else value

    def _resolved(self, schedules: Sequence[Schedule]) -> list[Schedule]:
        """``schedules`` with every fraction of training resolved (the length is read only if needed)."""
        return [s if s.is_resolved else s.resolve(self._durations_total()) for s in schedules]

    def _raw_clock(self, trainer: pl.Trainer) -> int:
        """The clock's reading now, before the restart offset."""
        if self.interval == "epoch":
            return int(trainer.current_epoch)
        return int(getattr(self._clock_source, self._clock_field))

    def _clock(self, trainer: pl.Trainer) -> int:
        """The schedule's event index now: the clock's reading less the restart offset."""
        return self._raw_clock(trainer) - self._offset

    def _lengths_from_trainer(self) -> bool:
        owner = self._length_owner
        return owner._events_total is not None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = self._take_loaded_state()
        self._reset_fit()
        self._trainer = trainer
        self._strategy = trainer.strategy
        extra = state.get("extra") if state is not None else None
        restored_extra = extra if isinstance(extra, dict) else None
        if state is not None:
            self._check_resumed_clock(state)
        # Resumed from a checkpoint that holds no state for this callback (written without it, by
        # Lightning's own scheduler path, or under another state key): the targets may already
        # hold scheduled values.
        self._stateless_resume = (
            state is None
            and getattr(trainer, "ckpt_path", None) is not None
            and (trainer.global_step > 0 or trainer.current_epoch > 0)
        )
        self._setup_clock(trainer, state)
        self._offset = 0
        self._keep_lengths = state is None or self.on_resume == "continue"
        if state is not None:
            self._offset = int(state.get("offset", 0))
        if (state is not None or self._stateless_resume) and self.on_resume == "restart":
            self._offset = self._raw_clock(trainer)  # count again from the step (or epoch) of the resume
        stored = state.get("events_total") if state is not None and self._keep_lengths else None
        self._events_total = stored if isinstance(stored, int) else None
        offset, name, clock = self._offset, type(self).__name__, self.clock
        self._length_source = lambda: fit_length(trainer, self.interval, name, clock) - offset
        self._resolve(trainer, restored_extra)
        self._check_conflicts(trainer)
        self._bind(trainer, pl_module, _stored_priors(state, self), resumed=state is not None)
        self._mute_monitored(trainer)
        self._after_bind(restored_extra)
        if stored is not None and self._lengths_from_trainer():
            self._warn_if_length_changed(trainer, int(stored))
        self._log_every = (
            int(trainer.log_every_n_steps)  # type: ignore[attr-defined]  # set by Trainer.__init__
            if self.logging_enabled and trainer.loggers and trainer.is_global_zero
            else 0
        )
        self._length_source = None  # resolved by now: hold no reference to the trainer
        self._start_rate_check(trainer)
        start = _swa_start(trainer)
        self._handover = start if start is not None and self._drives_swa_lr(trainer) else None
        if self._handover is not None and trainer.current_epoch >= self._handover:
            self._hand_over_lr(trainer)  # resumed after SWA started
        self._last_t = -1
        self._apply(trainer, self._clock(trainer), force_log=True, initial=True)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._handover is not None and trainer.current_epoch >= self._handover:
            self._hand_over_lr(trainer)

    def _drives_swa_lr(self, trainer: pl.Trainer) -> bool:
        """Whether this callback writes the lr that a StochasticWeightAveraging callback takes over."""
        return any(c[0] == "param_group" and c[1] == 0 and c[3] == "lr" for c in self._claims(trainer))

    def _hand_over_lr(self, trainer: pl.Trainer) -> None:
        """From SWA's start epoch its SWALR drives the first optimizer's lr: stop writing (and logging) it."""
        self._handover, self._handed_over = None, True
        kept = _without_swa_lr(self._active)
        if len(kept) == len(self._active):
            return
        self._active = kept
        self._disarm()
        self._watch_optimizers(trainer)
        rank_zero_info(
            f"{type(self).__name__}: from epoch {trainer.current_epoch}, StochasticWeightAveraging drives the lr "
            "(its SWALR); this callback stops writing and logging it"
        )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # No clock read here: the value for this batch was written when the clock last moved.
        # Only the setup is checked: a checkpoint restored into the running fit, an optimizer
        # recreated, param groups added or replaced by optimizer.load_state_dict (identity and
        # length comparisons per optimizer), an attribute's parent replaced (a walk of its path).
        if self._loaded_state is not None:
            self._restored_mid_fit(trainer, pl_module)
            return
        watch = self._watch
        if watch:
            if self._strategy.optimizers is not self._optimizers_seen:
                self._rebind(trainer, pl_module)
                return
            for optimizer, groups, count in watch:
                if optimizer.param_groups is not groups or len(groups) != count:
                    self._rebind(trainer, pl_module)
                    return
        for attribute in self._nested:
            if attribute.parent_replaced():
                self._rebind(trainer, pl_module)
                return

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # The one read of the clock per batch: write the next step's value as soon as the
        # optimizer has stepped, so that callbacks that read it at the next batch start
        # (LearningRateMonitor) see it whatever their order.
        source = self._clock_source
        if source is not None:
            t = getattr(source, self._clock_field) - self._offset
            if t != self._last_t:
                if self._fast_from <= t < self._fast_until:
                    # Plain param groups, values already in the blocks, nothing to warn about
                    # before _fast_until (see _arm_fast): write the rows, log when due.
                    self._last_t = t
                    for group, key, column, start in self._fast:
                        group[key] = column[t - start]
                    if t >= self._fast_log_at:
                        self._log_fast(trainer, t)
                else:
                    self._apply(trainer, t, force_log=False)
        if self._pending:
            if self._deferred_at is not None:
                self._apply_deferred(trainer)
            if self._rate_check is not None:
                self._check_rate()
            self._pending = self._deferred_at is not None or self._rate_check is not None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.interval == "epoch":
            self._apply(trainer, self._clock(trainer) + 1, force_log=True)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Hold no reference to the trainer or its optimizers once the fit is over.
        if stage != "fit":
            # trainer.validate/test/predict(ckpt_path=...) restores callback states too; a later
            # fit without a checkpoint must not resume from it (a fit with one loads it again).
            self._loaded_state = None
        self._unhook()
        self._trainer = self._strategy = self._optimizers_seen = self._clock_source = None
        self._watch, self._nested = (), ()
        self._disarm()

    # ----------------------------------------------------------------- the clock
    def _setup_clock(self, trainer: pl.Trainer, state: dict[str, Any] | None) -> None:
        """Choose what the step clock reads (see ``clock``), restoring a counted clock from ``state``."""
        if self.interval == "epoch":
            return
        loop = trainer.fit_loop.epoch_loop
        if self.clock == "batch":
            self._clock_source, self._clock_field = loop.batch_progress.total, "processed"
            return
        if not _is_manual(trainer):
            # global_step under automatic optimization, read from the counter behind it (the
            # property costs about a microsecond a read).
            source: Any = loop
            for attribute in ("automatic_optimization", "optim_progress", "optimizer", "step", "total"):
                source = getattr(source, attribute, None)
            if getattr(source, "completed", None) != trainer.global_step:
                source = _GlobalStep(trainer)
            self._clock_source, self._clock_field = source, "completed"
            return
        index = self._clock_optimizer(trainer)
        steps = state.get("steps") if state is not None else None
        if not isinstance(steps, int):
            # No count stored: a fresh fit starts at 0; a resumed one estimates one step per
            # optimizer per global step (global_step counts every optimizer's steps).
            resumed = state is not None or self._stateless_resume
            steps = int(trainer.global_step) // max(len(trainer.optimizers), 1) if resumed else 0
        self._counter = _StepCounter(steps)
        self._clock_source, self._clock_field = self._counter, "count"
        self._hook_optimizer(trainer.optimizers[index])

    def _clock_optimizer(self, trainer: pl.Trainer) -> int:
        """The optimizer whose steps the clock counts under manual optimization."""
        indices = {
            b.target.optimizer_index(trainer.optimizers) for b in self._bindings() if isinstance(b.target, ParamGroup)
        }
        if len(indices) == 1:
            return indices.pop()
        if not indices and len(trainer.optimizers) == 1:
            return 0
        what = f"targets on optimizers {sorted(indices)}" if indices else "no optimizer target"
        raise ValueError(
            f"{type(self).__name__}: under manual optimization with {len(trainer.optimizers)} optimizers, "
            f"clock='optimizer' follows one optimizer's steps, but this callback has {what}; use one callback "
            "per optimizer, or pass clock='batch' to count training batches"
        )

    def _hook_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        if self._hooked is optimizer:
            return
        self._unhook()
        self._hook = (
            optimizer.register_step_pre_hook(self._before_optimizer_step),
            optimizer.register_step_post_hook(self._after_optimizer_step),
        )
        self._hooked = optimizer

    def _unhook(self) -> None:
        for handle in self._hook or ():
            handle.remove()
        self._hook = self._hooked = None

    def _after_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        # Manual optimization: the clock is this optimizer's step count. The next value is written
        # at the end of the batch (where LearningRateMonitor expects it), or before the optimizer
        # steps again within the same batch.
        if self._counter is not None:
            self._counter.count += 1

    def _before_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        counter, trainer = self._counter, self._trainer
        if counter is not None and trainer is not None and counter.count - self._offset != self._last_t:
            self._apply(trainer, counter.count - self._offset, force_log=False)

    def _start_rate_check(self, trainer: pl.Trainer) -> None:
        # Under manual optimization a length from the trainer assumes one step per batch.
        if self._counter is not None and self._lengths_from_trainer():
            progress: Any = trainer.fit_loop.epoch_loop.batch_progress.total
            self._rate_check = (progress, int(progress.processed), self._counter.count)
            self._pending = True

    def _check_rate(self) -> None:
        assert self._rate_check is not None and self._counter is not None
        progress, batches0, steps0 = self._rate_check
        batches, steps = int(progress.processed) - batches0, self._counter.count - steps0
        if batches != steps:
            self._rate_check = None
            optimizer = type(self._hooked).__name__
            rank_zero_warn(
                f"{type(self).__name__}: under manual optimization its optimizer ({optimizer}) took {steps} step(s) "
                f"in the first {batches} batch(es) of this fit, but the length resolved from the trainer "
                f"({self._length_owner._events_total} steps) assumes one step per batch, so the schedule will not "
                "end with the fit. Give the length in this optimizer's steps (total_steps=..., or explicit "
                "durations), or pass clock='batch' to follow the training batches."
            )

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        if self._loaded_state is not None:
            # Loaded, and no fit has used it yet (a finished fit resumed, or saved before starting).
            return dict(self._loaded_state)
        return {
            "version": STATE_VERSION,
            "config": self._config(),
            "interval": self.interval,
            "clock": self.clock,
            "targets": [a.key for a in self._active],
            "bases": [None if a.captured is None else list(a.captured) for a in self._active],
            "slots": [len(a.schedules) for a in self._active],
            "offset": self._offset,
            "events_total": self._events_total,
            "steps": None if self._counter is None else self._counter.count,
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        problem = _state_problem(state_dict)
        if problem is None:
            problem = self._check_extra(state_dict["extra"])
        if problem is not None:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the checkpoint's state for this callback is not one it "
                f"wrote ({problem}). Was it edited, or written by another callback with the same state key "
                f"{self.state_key!r}? Resume from a checkpoint this callback wrote, or remove its entry from "
                "checkpoint['callbacks'] to start it afresh."
            )
        self._loaded_state = dict(state_dict)

    def _check_resumed_clock(self, state: dict[str, Any]) -> None:
        """A checkpoint that counted other events cannot continue: say so, and what to do."""
        before = (state.get("interval", self.interval), state.get("clock", self.clock))
        if before != (self.interval, self.clock) and self.on_resume != "restart":
            raise ValueError(
                f"{type(self).__name__}: the checkpoint was written with interval={before[0]!r}, clock={before[1]!r} "
                f"and this callback has interval={self.interval!r}, clock={self.clock!r}: the stored position and "
                "lengths count other events. Resume with the original settings, or pass on_resume='restart' to "
                "start the schedule again from the resumed step over the rest of the fit."
            )

    def _warn_if_length_changed(self, trainer: pl.Trainer, stored: int) -> None:
        try:
            now = fit_length(trainer, self.interval, type(self).__name__, self.clock) - self._offset
        except ValueError:
            return
        if now != stored:
            rank_zero_warn(
                f"{type(self).__name__}: this fit is {now} {self.interval}s long, but the resumed schedule was sized "
                f"for {stored} (on_resume='continue' keeps that length, so past it the last value holds). Pass "
                "on_resume='rescale' to size it to the new fit (same position, new length), or on_resume='restart' "
                "to run it again over the rest of the fit."
            )

    # ----------------------------------------------------------------- binding and applying
    def _bind(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        priors: dict[str, tuple[list[float] | None, int]] | None,
        *,
        resumed: bool,
    ) -> None:
        """Bind every target; captured start values come from ``priors`` where they exist.

        ``priors`` maps a target's description to what an earlier binding of it captured (the
        checkpoint's, or this fit's before a rebind) and how many slots it had. A slot beyond those
        (a param group added since) gets an anchored start value; a target the checkpoint lacks is
        an error unless ``on_resume="restart"`` (its current value may already be a scheduled one).
        """
        bindings = self._bindings()
        if self.name is not None and len(bindings) != 1:
            raise ValueError(
                f"`name`={self.name!r} names a single target, but this callback drives {len(bindings)}; "
                "set `name` on each ParamGroup/Attribute instead"
            )
        t = max(self._clock(trainer), 0)
        active: list[Active] = []
        missing: list[str] = []
        for binding in bindings:
            key = binding.target.describe()
            prior = priors.get(key) if priors is not None else None
            bound = self._bind_target(binding.target, trainer, pl_module)
            current = bound.read()
            entries = len(binding.schedules) if binding.per_slot else binding.slots
            if entries is not None and len(current) > entries and prior is not None and prior[1] <= entries:
                # Groups added during the fit beyond a per-group list: they keep their values.
                assert isinstance(binding.target, ParamGroup)
                self._warn_once(
                    f"unscheduled:{key}:{len(current)}",
                    f"{type(self).__name__}: {key} now has {len(current)} param groups, but its schedule is a "
                    f"per-group list of {entries}; group(s) {list(range(entries, len(current)))} are not scheduled "
                    "and keep their values. Give a single schedule for every group, or schedule them with another "
                    "callback (param_group_index=...).",
                )
                bound = binding.target.bind(trainer.optimizers, limit=entries)
                current = current[:entries]
            captured: list[float] | None = None
            if binding.needs_bases:
                stored = prior[0] if prior is not None else None
                if stored is None:
                    if resumed and priors and self.on_resume != "restart":
                        missing.append(key)
                        continue
                    captured = current
                    if self._stateless_resume and self.on_resume != "restart":
                        captured = self._stateless_bases(binding, bound, current, t)
                elif len(stored) > len(current):
                    raise ValueError(
                        f"{type(self).__name__}: {key} had {len(stored)} param group(s) when its start values were "
                        f"captured, and has {len(current)} now; restore the optimizer's param groups, or pass "
                        "on_resume='restart' to capture them again"
                    )
                else:
                    captured = list(stored) + _anchored(binding, list(stored), current[len(stored) :], t)
            schedules, scale = binding.resolve(captured if captured is not None else current)
            schedules = self._resolved(schedules)
            slots = len(current)
            if self.name is not None:
                bound.labels = _named(self.name, slots)
            active.append(Active(bound, schedules, scale, captured, key))
        if missing:
            stored_keys = sorted(priors or {})
            raise ValueError(
                f"{type(self).__name__}: the checkpoint holds no start value for {missing} (it has {stored_keys}); "
                "the value such a target holds now may already be a scheduled one, and capturing it would apply the "
                "schedule twice. Resume with the callback's original targets, or pass on_resume='restart' to start "
                "the schedules again from the values the targets hold now."
            )
        self._active = _without_swa_lr(active) if self._handed_over else active  # a rebind keeps the handover
        self._disarm()
        self._watch_optimizers(trainer)

    def _watch_optimizers(self, trainer: pl.Trainer) -> None:
        optimizers: list[Any] = []
        for a in self._active:
            optimizer = getattr(a.bound, "optimizer", None)
            if optimizer is not None and all(optimizer is not o for o in optimizers):
                optimizers.append(optimizer)
        self._watch = tuple((o, o.param_groups, len(o.param_groups)) for o in optimizers)
        self._nested = tuple(a.bound for a in self._active if isinstance(a.bound, BoundAttribute) and a.bound.nested)
        self._optimizers_seen = trainer.strategy.optimizers if optimizers else None

    def _restored_mid_fit(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A checkpoint was restored into this running fit: continue from it as a resume does.

        Lightning's learning-rate finder run mid-fit restores the checkpoint it saved first; a
        roll-back callback restores an older one. The state is taken, the targets bound again
        (``optimizer.load_state_dict`` replaced the param-group dicts) and the values for the
        restored clock written. Left loaded, the state would shadow the live one in every later
        checkpoint.
        """
        history = list(self.history)
        self.on_train_start(trainer, pl_module)
        # The rows already kept stay; the restored event's row replaces the one of the same step.
        for row in self.history:
            if history and history[-1].get("step") == row.get("step"):
                history[-1] = row
            else:
                history.append(row)
        self.history = history

    def _rebind(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The setup changed during the fit (groups added, an optimizer recreated): bind again, write now."""
        previous = self._active
        priors = {a.key: (a.captured, len(a.schedules)) for a in previous}
        self._bind(trainer, pl_module, priors, resumed=False)
        self._check_recreated(previous)
        self._mute_monitored(trainer)
        self._after_bind(None, previous)
        if self._counter is not None:
            self._hook_optimizer(trainer.optimizers[self._clock_optimizer(trainer)])
        self._last_t = -1
        self._apply(trainer, self._clock(trainer), force_log=True)

    def _check_recreated(self, previous: list[Active]) -> None:
        """A new optimizer whose values are neither the start values nor the last ones written: say so.

        An optimizer built again from ``configure_optimizers`` holds the configured values (the
        captured start values), one that copied the old state holds the last values written; other
        values (another optimizer, another lr) are not what the schedule scales.
        """
        before = {a.key: a for a in previous}
        for active in self._active:
            old = before.get(active.key)
            optimizer = getattr(active.bound, "optimizer", None)
            if old is None or active.captured is None or optimizer is getattr(old.bound, "optimizer", None):
                continue
            now = active.bound.read()[: len(old.captured or [])]
            known = (old.captured or [])[: len(now)], old.bound.read()[: len(now)]  # the old object holds the last
            if not any(_close(now, values) for values in known):
                self._warn_once(
                    f"recreated:{active.key}",
                    f"{type(self).__name__}: the optimizer was replaced during the fit and its {active.key} values "
                    f"{now} are neither the schedule's start values {known[0]} nor the last values written "
                    f"{known[1]}; the schedule keeps scaling its start values {known[0]} and overwrites them. To "
                    "schedule from the new values, start a new fit (or resume with on_resume='restart').",
                )

    def _stateless_bases(self, binding: Binding, bound: BoundTarget, current: list[float], t: int) -> list[float]:
        """Start values for a fit resumed from a checkpoint without this callback's state.

        A torch scheduler (Lightning's ``configure_optimizers`` path) left each group's start lr
        as ``initial_lr`` in the optimizer's state: the schedule continues from those, exactly.
        Otherwise the current values are all there is; they may already be scheduled: say so.
        """
        key = binding.target.describe()
        if (
            isinstance(binding.target, ParamGroup)
            and binding.target.key == "lr"
            and isinstance(bound, BoundParamGroups)
        ):
            initial = bound.read_other("initial_lr")
            if initial is not None and len(initial) == len(current):
                rank_zero_info(
                    f"{type(self).__name__}: the checkpoint holds no state for this callback; the start values of "
                    f"{key} are the param groups' initial_lr {initial} (left by a torch scheduler), and the "
                    f"schedule continues at {self.interval} {t}"
                )
                return initial
        self._warn_once(
            f"stateless:{key}",
            f"{type(self).__name__}: this fit resumes at {self.interval} {t} from a checkpoint that holds no state "
            f"for this callback (written without it, or with other targets or interval: state key "
            f"{self.state_key!r}), so the start values of {key} are what it holds now, {current}. If an earlier "
            "fit scheduled them, the schedule applies twice. Resume from a checkpoint this callback wrote; or pass "
            "on_resume='restart' to start the schedule at the resumed step from these values on purpose.",
        )
        return current

    def _claims(self, trainer: pl.Trainer) -> set[tuple[Any, ...]]:
        claims: set[tuple[Any, ...]] = set()
        for binding in self._bindings():
            claims |= binding.target.claims(trainer.optimizers)
        return claims

    def _check_conflicts(self, trainer: pl.Trainer) -> None:
        """Refuse a target that another callback, or a scheduler from ``configure_optimizers``, drives too."""
        mine = self._claims(trainer)
        for other in trainer.callbacks:  # type: ignore[attr-defined]
            if isinstance(other, BackboneFinetuning):
                self._check_backbone_finetuning(trainer, other)
            if other is self or not isinstance(other, SchedulerCallback):
                continue
            shared = mine & other._claims(trainer)
            if shared and (self._drives(other) or other._drives(self)):
                driver, base = (self, other) if self._drives(other) else (other, self)
                raise ValueError(
                    f"{base!r} is the base of {driver!r}, which drives it; remove it from Trainer(callbacks=...)"
                )
            if shared:
                raise ValueError(
                    f"{self!r} and {other!r} both drive {_describe_claims(shared)}; keep one (to reduce a schedule "
                    "on plateau, pass it as ReduceLROnPlateau(base=...))"
                )
        for config in getattr(trainer, "lr_scheduler_configs", []):
            scheduler = config.scheduler
            index = next(
                (i for i, o in enumerate(trainer.optimizers) if o is getattr(scheduler, "optimizer", None)), None
            )
            if index is None:
                continue
            optimizer = trainer.optimizers[index]
            keys = ["lr"]
            if getattr(scheduler, "cycle_momentum", False):
                keys.append("momentum")
            theirs = {
                ("param_group", index, i, "betas[0]" if k == "momentum" and "betas" in g and "momentum" not in g else k)
                for k in keys
                for i, g in enumerate(optimizer.param_groups)
            }
            shared = mine & theirs
            if shared:
                raise ValueError(
                    f"{self!r} and the {type(scheduler).__name__} returned by configure_optimizers both drive "
                    f"{_describe_claims(shared)}; remove one of them"
                )

    def _check_backbone_finetuning(self, trainer: pl.Trainer, finetuning: BackboneFinetuning) -> None:
        """BackboneFinetuning writes the lr of the group it adds to the first optimizer, every epoch."""
        for binding in self._bindings():
            target = binding.target
            if (
                isinstance(target, ParamGroup)
                and target.key == "lr"
                and target.param_group_index is None
                and target.optimizer_index(trainer.optimizers) == 0
            ):
                raise ValueError(
                    f"{self!r} drives the lr of every param group of the first optimizer, and BackboneFinetuning "
                    f"sets the lr of the backbone group it adds there (from epoch "
                    f"{finetuning.unfreeze_backbone_at_epoch}, derived from group 0's lr each epoch): both would "
                    "write it. Pass param_group_index=0 to schedule the head's lr (BackboneFinetuning follows "
                    "it), or use BaseFinetuning, whose added groups this callback schedules."
                )

    def _bind_target(self, target: Target, trainer: pl.Trainer, pl_module: pl.LightningModule) -> BoundTarget:
        if isinstance(target, ParamGroup):
            return target.bind(trainer.optimizers)
        key = (id(pl_module), target.path)
        bound = target.bind(pl_module, created_by_us=key in self._created)
        if target.create_new:
            self._created.add(key)
        return bound

    def _take_loaded_state(self) -> dict[str, Any] | None:
        state, self._loaded_state = self._loaded_state, None
        if state is not None and self.on_resume == "continue" and state.get("config") != self._config():
            rank_zero_warn(
                f"{type(self).__name__}: the checkpoint was written by a different configuration; resuming "
                "with the new one (pass on_resume='restart' or 'rescale' to say how).\n"
                f"  checkpoint: {state.get('config')}\n  now:        {self._config()}"
            )
        return state

    def _apply(
        self, trainer: pl.Trainer, t: int, *, force_log: bool, log_at_end: bool = False, initial: bool = False
    ) -> None:
        # The hot path: a few hundred nanoseconds per binding when the block holds event t.
        self._last_t = t
        horizon = self._horizon
        # The value held after the last step of a fit is no overrun: no warning for it.
        if horizon is not None and t >= horizon and not self._horizon_warned and not _training_ends(trainer):
            self._horizon_warned = True
            rank_zero_warn(
                f"{type(self).__name__}: {self.interval} {t} is past the end of the schedule "
                f"({horizon} {self.interval}s); holding its last value"
            )
        for active in self._active:
            offset = t - active.block_start
            if active.multipliers is None and 0 <= offset < active.block_len:
                values = [column[offset] for column in active.columns]  # finite by construction
            else:
                values = self._values_at(active, t)
            active.values = values
            plain = active.plain
            if plain is not None:  # float entries of param groups: written inline (saves a call per step)
                key = plain[1]
                for group, v in zip(plain[0], values):  # noqa: B905 - same length by construction
                    group[key] = v
            else:
                active.bound.write(values)
        every = self._log_every
        if every or self.save_history:
            # A value written after the last step is held (ignite's state schedulers are read then)
            # but not logged: no step trains with it.
            due = bool(every) and (force_log or t % every == 0)
            ends = (due or self.save_history) and _training_ends(trainer)
            log = due and (log_at_end or not ends)
            # History, as ignite's param_history: a row per event, the value it trained with, or
            # for values read after each event (state schedulers) the value written after it.
            keep = self.save_history and not (initial if self._history_after_events else ends)
            if log or keep:
                self._record(trainer, log=log, keep=keep)
        self._arm_fast(t)

    def _log_fast(self, trainer: pl.Trainer, t: int) -> None:
        """Log event ``t``, written by the fast path (which leaves ``Active.values`` behind until now)."""
        self._fast_log_at = (t // self._log_every + 1) * self._log_every
        for active in self._active:
            i = t - active.block_start
            active.values = [column[i] for column in active.columns]
        if not _training_ends(trainer):
            self._record(trainer, log=True)

    def _disarm(self) -> None:
        """Send every coming event through :meth:`_apply` until it arms the fast path again."""
        self._fast = ()
        self._fast_from = self._fast_until = 0
        self._fast_log_at = math.inf

    def _arm_fast(self, t: int) -> None:
        """After writing event ``t``: the events on_train_batch_end may write straight from the blocks.

        That is every binding writing plain param-group floats from a block that holds the coming
        events, with no plateau multipliers, no history, and short of the next event that logs,
        warns (the schedule's end) or needs a block refilled; everything else takes :meth:`_apply`.
        Logging, every ``log_every_n_steps`` events, is done on the fast path too.
        """
        self._disarm()
        if self.save_history:
            return
        until = t + BLOCK
        fast: list[tuple[dict[str, Any], str, list[float], int]] = []
        for active in self._active:
            plain, start = active.plain, active.block_start
            if plain is None or active.multipliers is not None or not start <= t < start + active.block_len:
                return
            until = min(until, start + active.block_len)
            groups, key = plain
            fast.extend((group, key, column, start) for group, column in zip(groups, active.columns, strict=True))
        every = self._log_every
        self._fast_log_at = (t // every + 1) * every if every else math.inf
        if self._horizon is not None and not self._horizon_warned:
            until = min(until, self._horizon)
        self._fast, self._fast_from, self._fast_until = tuple(fast), t + 1, until

    def _defer_or_apply(self, trainer: pl.Trainer) -> None:
        """Write a changed value now, or at the next optimizer step when inside an accumulation window."""
        if _inside_accumulation_window(trainer):
            self._deferred_at = int(trainer.global_step)
            self._pending = True
            self._disarm()
            return
        self._apply(trainer, self._clock(trainer), force_log=True, log_at_end=True)

    def _apply_deferred(self, trainer: pl.Trainer) -> None:
        if trainer.global_step != self._deferred_at:  # the window's optimizer step has happened
            self._deferred_at = None
            self._apply(trainer, self._clock(trainer), force_log=True)

    def _values_at(self, active: Active, t: int) -> list[float]:
        """Values at ``t`` outside the block: refill it, or evaluate one event; plateau and finiteness applied."""
        try:
            values = active.raw_values(t)
        except ValueError as error:  # an overflow, named by the pure layer: say which callback and when
            raise ValueError(f"{type(self).__name__} at {self.interval} {t}: {error}") from error
        multipliers = active.multipliers
        if multipliers is not None:
            values = [apply_reduction(v, m, f) for v, m, f in zip(values, multipliers, active.floors, strict=True)]
        for j, v in enumerate(values):
            if not math.isfinite(v):
                raise FloatingPointError(
                    f"{type(self).__name__}: the schedule for {active.bound.labels[j]!r} gave {v!r} at "
                    f"{self.interval} {t}; refusing to write a non-finite value"
                )
            if v < 0 and active.bound.non_negative:
                raise ValueError(
                    f"{type(self).__name__}: the schedule for {active.bound.labels[j]!r} ({active.key}) gave the "
                    f"negative value {v!r} at {self.interval} {t}; refusing to write it (check the schedule's "
                    "arguments: a negative floor, end value or min_lr)"
                )
        return values

    def _record(self, trainer: pl.Trainer, *, log: bool, keep: bool = False) -> None:
        step = trainer.global_step
        # What each target holds: the value written, or for a tensor (float32, say) or a tuple
        # entry, what it reads back as.
        metrics = {
            label: value
            for active in self._active
            for label, value in zip(
                active.bound.labels, active.values if active.plain is not None else active.bound.read(), strict=True
            )
        }
        if keep:
            row = {"step": float(step), "epoch": float(trainer.current_epoch), **metrics}
            if self.history and self.history[-1]["step"] == row["step"]:
                self.history[-1] = row  # rewritten before its step trained (a plateau reduction): one row a step
            else:
                self.history.append(row)
        if log:
            muted = self._muted
            logged = {k: v for k, v in metrics.items() if k not in muted} if muted else metrics
            if logged:
                for logger in trainer.loggers:
                    logger.log_metrics(logged, step=step)

    def _mute_monitored(self, trainer: pl.Trainer) -> None:
        """Leave to a ``LearningRateMonitor`` the series it logs itself: one series per name.

        Its names are ours for a param-group target without ``name=`` (``lr-SGD``,
        ``lr-SGD-momentum`` with ``log_momentum``, ``...-weight_decay`` with ``log_weight_decay``)
        and it reads the value this callback wrote, so nothing is lost.
        """
        monitors = [c for c in trainer.callbacks if isinstance(c, LearningRateMonitor)]  # type: ignore[attr-defined]
        logged = {"lr"} if monitors else set()
        if any(m.log_momentum for m in monitors):
            logged.add("momentum")
        if any(m.log_weight_decay for m in monitors):
            logged.add("weight_decay")
        self._muted = frozenset(
            label
            for active in self._active
            if getattr(active.bound, "monitored", None) in logged
            for label in active.bound.labels
        )

    # ----------------------------------------------------------------- preview
    def simulate(
        self,
        num_events: int,
        initial: float | Sequence[float] | None = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
    ) -> np.ndarray:
        """Values this callback would apply at events ``0 .. num_events - 1``.

        Args:
            num_events: number of steps (``interval="step"``) or epochs (``"epoch"``).
            initial: the value each target holds at the start (only used by relative targets);
                a list gives one column per param group. With ``optimizers`` and no ``initial``,
                the values their param groups hold; else 1.0.
            optimizers: the fit's optimizers (what ``configure_optimizers`` returns), for their
                param groups and start values, and for :meth:`labels` equal to the logged names.

        Returns:
            A float64 array of shape ``(num_events,)`` for one value, else ``(num_events, k)`` with
            one column per value, bindings in order and param groups within each binding.

        """
        n = check_int("num_events", num_events, minimum=0)
        _, columns, _ = self._columns(n, initial, length=max(n, 1), optimizers=optimizers)
        if len(columns) == 1:
            return columns[0]
        return np.stack(columns, axis=1)

    def labels(
        self, optimizers: Sequence[torch.optim.Optimizer] | None = None, initial: float | Sequence[float] | None = None
    ) -> list[str]:
        """The names of :meth:`simulate`'s columns: ``LearningRateMonitor``'s, as a fit logs them.

        Without ``optimizers`` the optimizer's class is not known, and the reference stands in its
        place (``lr-optimizer0``; ``lr-AdamW`` for ``optimizer="AdamW"``).

        Examples:
            >>> import torch
            >>> from lightning_schedulers import StepLR
            >>> StepLR(2).labels([torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])])
            ['lr-AdamW']
        """
        labels, _, _ = self._columns(0, initial, length=1, optimizers=optimizers)
        return labels

    def _columns(
        self,
        num_events: int,
        initial: float | Sequence[float] | None,
        length: int,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
    ) -> tuple[list[str], list[np.ndarray], list[str]]:
        """Labels, values and targets (descriptions) of every applied value over ``num_events`` events.

        Fractions of training resolve against a fit ``length`` events long.
        """
        init = _check_initial(1.0 if initial is None else initial)
        given = None if optimizers is None else _check_optimizers(optimizers)
        ts = np.arange(num_events, dtype=np.float64)
        labels: list[str] = []
        columns: list[np.ndarray] = []
        targets: list[str] = []
        token = _PREVIEW_TOTAL.set(length)  # fractions of training resolve against this length
        try:
            bindings = self._bindings()
            for binding in bindings:
                target = binding.target
                bound = target.bind(given) if given is not None and isinstance(target, ParamGroup) else None
                bases = bound.read() if bound is not None and initial is None else binding.preview_bases(init)
                schedules, scale = binding.resolve(bases)
                names = _preview_names(self, target, bound, len(schedules), len(bindings))
                for j, schedule in enumerate(self._resolved(schedules)):
                    label = names[j]
                    try:
                        column = schedule.values(ts)  # raises, naming the arguments, where a value overflows
                    except ValueError as error:
                        raise ValueError(f"{self!r}: {error}") from error
                    if scale is not None:
                        with np.errstate(over="ignore"):
                            column = scale[j] * column
                        if not np.isfinite(column).all():
                            t = int(np.argmin(np.isfinite(column)))
                            raise ValueError(
                                f"{self!r}: the value for {label!r} overflows float64 at {self.interval} {t} "
                                f"from the initial value {scale[j]!r}"
                            )
                    columns.append(column)
                    labels.append(label)
                    targets.append(target.describe())
        finally:
            _PREVIEW_TOTAL.reset(token)
        return labels, columns, targets

    def plot(
        self,
        num_events: int,
        initial: float | Sequence[float] | None = None,
        ax: Axes | None = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
    ) -> Axes:
        """Plot :meth:`simulate` on ``ax`` (a new figure if ``None``) and return the ``Axes``.

        Needs matplotlib (``pip install 'lightning_schedulers[plot]'``).
        """
        from lightning_schedulers._plotting import plot_columns

        n = check_int("num_events", num_events, minimum=0)
        labels, columns, _ = self._columns(n, initial, length=max(n, 1), optimizers=optimizers)
        return plot_columns(np.stack(columns, axis=1), labels, xlabel=self.interval, ax=ax)


def _named(name: str, slots: int) -> list[str]:
    """The labels of a callback's ``name=`` for its single target's ``slots`` param groups."""
    return [name] if slots == 1 else [f"{name}/pg{j + 1}" for j in range(slots)]


def _preview_names(
    callback: SchedulerCallback, target: Target, bound: BoundParamGroups | None, slots: int, bindings: int
) -> list[str]:
    """The names a fit logs ``target``'s ``slots`` values under (see :meth:`SchedulerCallback.labels`)."""
    if callback.name is not None and bindings == 1:
        return _named(callback.name, slots)
    if bound is not None:
        return list(bound.labels)
    if isinstance(target, ParamGroup):
        return target.preview_labels(slots)
    return [target.name or target.path]


def _check_optimizers(value: Any) -> list[torch.optim.Optimizer]:
    """A sequence of torch optimizers (what ``configure_optimizers`` returns), or a TypeError naming it."""
    items = check_sequence("optimizers", value)
    for i, item in enumerate(items):
        if not isinstance(item, torch.optim.Optimizer):
            raise TypeError(f"`optimizers[{i}]` must be a torch optimizer, got {item!r} ({type(item).__name__})")
    return list(items)


def _own_parameters(cls: type[SchedulerCallback]) -> tuple[str, ...]:
    """The named constructor parameters of ``cls`` beyond the common keyword arguments (cached per class)."""
    cached = _PARAMETERS.get(cls)
    if cached is not None:
        return cached
    names: dict[str, None] = {}  # ordered: the base classes' arguments first, as in the signatures
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or not issubclass(klass, SchedulerCallback) or klass is SchedulerCallback:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                names[p.name] = None
    result = _PARAMETERS[cls] = tuple(name for name in names if name not in cls._COMMON_ARGUMENTS)
    return result


_PARAMETERS: dict[type, tuple[str, ...]] = {}


def _public_signature(cls: type[SchedulerCallback]) -> inspect.Signature:
    """``cls``'s constructor signature with what it passes on to its bases written out.

    The first ``__init__`` in the MRO gives its parameters; a base reached through ``*args`` adds
    its positional parameters in their place, one reached through ``**kwargs`` its optional and
    keyword-only parameters (keyword-only), until a base passes nothing on.
    """
    positional: list[inspect.Parameter] = []
    keyword: dict[str, inspect.Parameter] = {}
    takes_positional, star = True, False
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if not issubclass(klass, SchedulerCallback):
            break
        seen = {p.name for p in positional} | set(keyword)
        more, star = False, False
        for p in list(inspect.signature(init).parameters.values())[1:]:  # without self
            if p.kind is p.VAR_KEYWORD:
                more = True
            elif p.kind is p.VAR_POSITIONAL:
                star = True
            elif p.name in seen:
                continue
            elif takes_positional and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                positional.append(p)
            elif p.kind is p.KEYWORD_ONLY or p.default is not p.empty:
                keyword[p.name] = p.replace(kind=p.KEYWORD_ONLY)
            # else: a required positional parameter of a base, which the subclass passes itself
        takes_positional = star
        if not (more or star):
            break
    # A positional parameter without a default after one with a default can only be passed by keyword.
    for i, p in enumerate(positional):
        if p.default is p.empty and any(q.default is not q.empty for q in positional[:i]):
            positional, rest = positional[:i], positional[i:]
            keyword = {q.name: q.replace(kind=q.KEYWORD_ONLY) for q in rest} | keyword
            break
    extra = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)] if star else []
    return inspect.Signature([*positional, *extra, *keyword.values()])


def _check_arguments(cls: type[SchedulerCallback], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Say what is wrong with a constructor call in the public class's terms (torch habits included)."""
    name = cls.__name__
    if any(isinstance(v, torch.optim.Optimizer) for v in (*args, *kwargs.values())):
        raise TypeError(
            f"{name} is a Lightning callback: it takes the optimizer from the trainer, so do not pass one "
            f"(torch's {name}(optimizer, ...)); drop it, and pick the optimizer with optimizer=<index or class "
            f"name> where the LightningModule has several: Trainer(callbacks=[ls.{name}(...)])"
        )
    signature: inspect.Signature = cls.__signature__  # type: ignore[attr-defined]
    try:
        signature.bind_partial(*args, **kwargs)  # a missing argument is __init__'s to report
    except TypeError as error:
        known = list(signature.parameters)
        unknown = [k for k in kwargs if k not in signature.parameters]
        hint = ""
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"{name}(): {error}{hint}; {name} takes {name}{signature}") from None


def _describe(value: Any) -> str:
    """A value as ``repr`` shows it: callables by name (no addresses), sequences item by item."""
    if callable(value) and not isinstance(value, (SchedulerCallback, Schedule)):
        return callable_name(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)


def _is_manual(trainer: pl.Trainer) -> bool:
    module = trainer.lightning_module
    return module is not None and not module.automatic_optimization


def fit_length(trainer: pl.Trainer, interval: str, who: str, clock: str = "optimizer") -> int:
    """Total events of this fit on the given clock, or a clear error when it is unknown.

    ``"epoch"``: ``max_epochs``. The optimizer clock under automatic optimization:
    ``trainer.estimated_stepping_batches`` (accumulation- and DDP-aware). The batch clock, and the
    optimizer clock under manual optimization: the fit's training batches, where ``max_steps``
    (which counts every optimizer's steps) is taken to mean one step per optimizer per batch.
    """
    if interval == "epoch":
        epochs = trainer.max_epochs
        if epochs is None or epochs < 0:
            raise ValueError(
                f"{who}: the number of epochs is unknown (max_epochs={epochs}: the fit is bounded by max_steps or "
                "max_time, or by nothing); set max_epochs, or give the length in epochs"
            )
        return int(epochs)
    manual = _is_manual(trainer)
    if clock == "optimizer" and not manual:
        total = trainer.estimated_stepping_batches
        # Lightning answers inf, or max_steps (-1 when unset), when the length cannot be known.
        if not math.isfinite(total) or total < 1:
            raise ValueError(
                f"{who}: the total number of optimizer steps is unknown (estimated_stepping_batches={total}, "
                f"max_steps={trainer.max_steps}); set max_steps or give the length in steps"
            )
        return _with_accumulation_schedule(trainer, int(total))
    per_epoch = trainer.num_training_batches
    epochs, max_steps = trainer.max_epochs, trainer.max_steps
    limits: list[int] = []
    if math.isfinite(per_epoch) and epochs is not None and epochs >= 0:
        limits.append(int(per_epoch) * max(int(epochs), 1))
    if max_steps is not None and max_steps >= 0:
        if manual:
            limits.append(math.ceil(max_steps / max(len(trainer.optimizers), 1)))
        else:
            accumulate = int(trainer.accumulate_grad_batches)
            if math.isfinite(per_epoch):
                per_epoch_steps = math.ceil(int(per_epoch) / accumulate)
                full, rest = divmod(max_steps, per_epoch_steps)
                limits.append(full * int(per_epoch) + min(rest * accumulate, int(per_epoch)))
            else:
                limits.append(max_steps * accumulate)
    if not limits or min(limits) < 1:
        raise ValueError(
            f"{who}: the number of training batches of this fit is unknown (num_training_batches={per_epoch}, "
            f"max_epochs={epochs}, max_steps={max_steps}); set max_steps or give the length in steps"
        )
    return min(limits)


def _with_accumulation_schedule(trainer: pl.Trainer, estimated: int) -> int:
    """The optimizer steps of a fit whose accumulation changes by epoch (``GradientAccumulationScheduler``).

    ``estimated_stepping_batches`` counts with the accumulation the fit starts with (1: the
    callback sets it at each epoch's start), so a schedule sized by it would run several times
    too long. Count as Lightning steps instead, as :class:`~lightning_schedulers.FitPlan` does:
    ``ceil(batches / accumulation)`` per epoch (the last window of an epoch steps at its end), at
    most ``max_steps``.
    """
    schedulers = [c for c in trainer.callbacks if isinstance(c, GradientAccumulationScheduler)]  # type: ignore[attr-defined]
    batches, epochs, max_steps = trainer.num_training_batches, trainer.max_epochs, trainer.max_steps
    if not schedulers or not math.isfinite(batches) or batches < 1 or epochs is None or epochs < 1 or max_steps == 0:
        return estimated
    # The preview's count of the same fit (num_training_batches is already per process).
    from lightning_schedulers.previews import FitPlan  # previews imports this module

    plan = FitPlan(
        max_epochs=int(epochs),
        max_steps=-1 if max_steps is None or max_steps < 0 else int(max_steps),
        batches_per_epoch=int(batches),
        accumulate_grad_batches=dict(schedulers[0].scheduling),
    )
    return plan.total_steps


def _inside_accumulation_window(trainer: pl.Trainer) -> bool:
    """Whether the batches seen since the last optimizer step have not reached it yet (automatic optimization)."""
    accumulate = int(trainer.accumulate_grad_batches)
    if accumulate <= 1 or _is_manual(trainer):
        return False
    progress = trainer.fit_loop.epoch_loop.batch_progress
    return progress.current.completed % accumulate != 0 and not progress.is_last_batch


def _anchored(binding: Binding, known: list[float], added: list[float], t: int) -> list[float]:
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


_STATE_KEYS = ("version", "config", "bases", "offset", "events_total", "extra")


def _state_problem(state: Any) -> str | None:
    """What is wrong with a checkpoint state, or ``None`` (checked before anything is used)."""
    if not isinstance(state, dict):
        return f"expected a dict, got {type(state).__name__}"
    missing = [k for k in _STATE_KEYS if k not in state]
    if missing:
        return f"missing {missing}"
    version = state["version"]
    if version not in (1, STATE_VERSION):
        return f"unknown version {version!r}"
    if not isinstance(state["config"], str):
        return f"config is {state['config']!r}"
    bases = state["bases"]
    if not isinstance(bases, list):
        return f"bases is {bases!r}"
    for i, entry in enumerate(bases):
        if entry is None:
            continue
        if not isinstance(entry, list) or not all(_is_finite_number(v) for v in entry):
            return f"bases[{i}] is {entry!r}, not a list of finite numbers"
    if not _is_count(state["offset"]):
        return f"offset is {state['offset']!r}"
    total = state["events_total"]
    if total is not None and (not _is_count(total) or total < 1):
        return f"events_total is {total!r}"
    if not isinstance(state["extra"], dict):
        return f"extra is {state['extra']!r}"
    if version == STATE_VERSION:
        if state.get("interval") not in INTERVALS or state.get("clock") not in CLOCKS:
            return f"interval/clock is {state.get('interval')!r}/{state.get('clock')!r}"
        targets, slots = state.get("targets"), state.get("slots")
        if not isinstance(targets, list) or not all(isinstance(k, str) for k in targets) or len(targets) != len(bases):
            return f"targets is {targets!r} for {len(bases)} bases"
        if not isinstance(slots, list) or len(slots) != len(bases) or not all(_is_count(n) for n in slots):
            return f"slots is {slots!r}"
        steps = state.get("steps")
        if steps is not None and not _is_count(steps):
            return f"steps is {steps!r}"
    return None


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    """The same values to float32 precision (a tensor hyperparameter reads back rounded)."""
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _stored_priors(
    state: dict[str, Any] | None, callback: SchedulerCallback
) -> dict[str, tuple[list[float] | None, int]] | None:
    """What a checkpoint captured, by target description (``None``: nothing was captured)."""
    if state is None:
        return None
    bases = state["bases"]
    if state["version"] == 1:  # no target names: matched by position when the count agrees
        keys = [b.target.describe() for b in callback._bindings()]
        if len(keys) != len(bases):
            return {}
        return {k: (b, len(b) if b is not None else 0) for k, b in zip(keys, bases, strict=True)}
    return {
        k: (None if b is None else [float(v) for v in b], n)
        for k, b, n in zip(state["targets"], bases, state["slots"], strict=True)
    }


def _without_swa_lr(active: list[Active]) -> list[Active]:
    """``active`` less the first optimizer's lr, which StochasticWeightAveraging drives."""
    return [
        a
        for a in active
        if not (isinstance(a.bound, BoundParamGroups) and a.bound.optimizer_index == 0 and a.bound.key == "lr")
    ]


def _swa_start(trainer: pl.Trainer) -> int | None:
    """The epoch from which a StochasticWeightAveraging callback of the trainer drives the lr, if any."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, StochasticWeightAveraging):
            return int(callback.swa_start)
    return None


def _training_ends(trainer: pl.Trainer) -> bool:
    """Whether no further step will train (at the end of the last batch or epoch of the fit)."""
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps:
        return True
    max_epochs = trainer.max_epochs
    last_epoch = max_epochs is not None and max_epochs >= 0 and trainer.current_epoch + 1 >= max_epochs
    return bool(last_epoch and trainer.is_last_batch)


def _describe_claims(claims: set[tuple[Any, ...]]) -> str:
    parts = []
    for claim in sorted(claims, key=str):
        if claim[0] == "attribute":
            parts.append(f"attribute {claim[1]!r}")
        else:
            parts.append(f"{claim[3]} of optimizer {claim[1]} param group {claim[2]}")
    return ", ".join(parts)


def _check_initial(initial: Any) -> float | list[float]:
    if isinstance(initial, (int, float)) and not isinstance(initial, bool):
        return check_float("initial", initial)
    items = check_sequence("initial", initial)
    return [check_float(f"initial[{i}]", v) for i, v in enumerate(items)]
