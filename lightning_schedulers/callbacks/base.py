"""Lightning callbacks: read the clock, ask the schedule, write the target, log.

The clock (see the README):

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

import inspect
import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int, check_sequence
from lightning_schedulers.callbacks.binding import Active, Binding
from lightning_schedulers.plateau import apply_reduction
from lightning_schedulers.schedules.base import Schedule, callable_name
from lightning_schedulers.schedules.durations import TrainingFraction
from lightning_schedulers.targets import BoundTarget, ParamGroup, Target

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SchedulerCallback", "fit_length"]

# simulate(n) resolves fractions of training against n, for the callback and everything it composes.
_PREVIEW_TOTAL: ContextVar[int | None] = ContextVar("lightning_schedulers_preview_total", default=None)

INTERVALS = ("step", "epoch")
RESUME_POLICIES = ("continue", "restart", "rescale")
ScheduleSpec = Schedule | Sequence[Schedule]
TargetSpec = Target | str


class SchedulerCallback(Callback):
    """Base of every scheduler callback: binds schedules to targets and applies them on a clock.

    Subclasses provide :meth:`_bindings`. Everything else (binding, the clock, logging, checkpoint
    state, ``simulate`` and ``plot``) lives here, once.

    Args:
        interval: ``"step"`` (clock ``trainer.global_step``) or ``"epoch"`` (``trainer.current_epoch``).
        name: logging name; only for a callback that drives a single target.
        save_history: keep every applied value in :attr:`history`.
        logging_enabled: log applied values through ``trainer.loggers``.
        on_resume: what a fit resumed from a checkpoint does: ``"continue"`` (the position comes
            from Lightning's restored clock, lengths resolved from the trainer are the stored
            ones), ``"restart"`` (the schedule starts again at the step or epoch of the resume,
            over what remains of the fit), or ``"rescale"`` (keep the position, resolve lengths
            from the trainer again, for a fit whose total changed).

    """

    def __init__(
        self,
        *,
        interval: str = "step",
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: str = "continue",
    ) -> None:
        self.interval = check_choice("interval", interval, INTERVALS)
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
        # Whether lengths resolved in an earlier run of this fit (checkpoint state) are to be kept.
        self._keep_lengths = True
        # The fit's length in events, against which fractions of training resolve (checkpointed),
        # how to read it from the trainer, and the callback whose length applies (a composite's).
        self._events_total: int | None = None
        self._length_source: Callable[[], int] | None = None
        self._length_owner: SchedulerCallback = self

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

    def _after_bind(self, restored: dict[str, Any] | None) -> None:
        """Hook run once the targets are bound, before the first value is written."""

    def _drives(self, other: SchedulerCallback) -> bool:
        """Whether ``other`` is applied by this callback (a plateau reduction's base)."""
        return False

    #: Constructor arguments that every class of a family shares; ``repr`` shows them separately.
    _COMMON_ARGUMENTS: ClassVar[frozenset[str]] = frozenset(
        ("interval", "optimizer", "param_group_index", "name", "save_history", "logging_enabled", "on_resume")
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

    def _clock(self, trainer: pl.Trainer) -> int:
        """The schedule's event index now: the trainer's step or epoch, less the restart offset."""
        raw = trainer.global_step if self.interval == "step" else trainer.current_epoch
        return int(raw) - self._offset

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = self._take_loaded_state()
        extra = state.get("extra") if state is not None else None
        self._offset = 0
        self._keep_lengths = state is None or self.on_resume == "continue"
        if state is not None:
            self._offset = int(state.get("offset", 0))
            if self.on_resume == "restart":  # count again from the step (or epoch) of the resume
                self._offset = trainer.global_step if self.interval == "step" else trainer.current_epoch
        stored = state.get("events_total") if state is not None and self._keep_lengths else None
        self._events_total = stored if isinstance(stored, int) else None
        offset, name = self._offset, type(self).__name__
        self._length_source = lambda: fit_length(trainer, self.interval, name) - offset
        self._resolve(trainer, extra if isinstance(extra, dict) else None)
        self._check_conflicts(trainer)
        self._bind(trainer, pl_module, state)
        self._after_bind(extra if isinstance(extra, dict) else None)
        self._log_every = (
            int(trainer.log_every_n_steps)  # type: ignore[attr-defined]  # set by Trainer.__init__
            if self.logging_enabled and trainer.loggers and trainer.is_global_zero
            else 0
        )
        self._length_source = None  # resolved by now: hold no reference to the trainer
        self._last_t = -1
        self._apply(trainer, self._clock(trainer), force_log=True)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.interval == "step":
            t = trainer.global_step - self._offset
            if t != self._last_t:
                self._apply(trainer, t, force_log=False)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # Write the next step's value as soon as the optimizer has stepped, so that callbacks that
        # read it at the next batch start (LearningRateMonitor) see it whatever their order.
        if self.interval == "step":
            t = trainer.global_step - self._offset
            if t != self._last_t:
                self._apply(trainer, t, force_log=False)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.interval == "epoch":
            self._apply(trainer, self._clock(trainer) + 1, force_log=True)

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "config": self._config(),
            "bases": [None if a.captured is None else list(a.captured) for a in self._active],
            "offset": self._offset,
            "events_total": self._events_total,
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded_state = dict(state_dict)

    # ----------------------------------------------------------------- binding and applying
    def _bind(self, trainer: pl.Trainer, pl_module: pl.LightningModule, state: dict[str, Any] | None) -> None:
        bindings = self._bindings()
        if self.name is not None and len(bindings) != 1:
            raise ValueError(
                f"`name`={self.name!r} names a single target, but this callback drives {len(bindings)}; "
                "set `name` on each ParamGroup/Attribute instead"
            )
        loaded = state.get("bases") if state is not None else None
        if not isinstance(loaded, list) or len(loaded) != len(bindings):
            loaded = None
        active: list[Active] = []
        for i, binding in enumerate(bindings):
            bound = self._bind_target(binding.target, trainer, pl_module)
            current = bound.read()
            captured: list[float] | None = None
            if binding.needs_bases:
                restored = loaded[i] if loaded is not None else None
                ok = isinstance(restored, list) and len(restored) == len(current)
                captured = [float(v) for v in restored] if ok else current  # type: ignore[union-attr]
            schedules, scale = binding.resolve(captured if captured is not None else current)
            schedules = self._resolved(schedules)
            slots = len(current)
            if self.name is not None:
                bound.labels = [self.name] if slots == 1 else [f"{self.name}/pg{j + 1}" for j in range(slots)]
            active.append(Active(bound, schedules, scale, captured))
        self._active = active

    def _claims(self, trainer: pl.Trainer) -> set[tuple[Any, ...]]:
        claims: set[tuple[Any, ...]] = set()
        for binding in self._bindings():
            claims |= binding.target.claims(trainer.optimizers)
        return claims

    def _check_conflicts(self, trainer: pl.Trainer) -> None:
        """Refuse a target that another callback, or a scheduler from ``configure_optimizers``, drives too."""
        mine = self._claims(trainer)
        for other in trainer.callbacks:  # type: ignore[attr-defined]
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

    def _apply(self, trainer: pl.Trainer, t: int, *, force_log: bool, log_at_end: bool = False) -> None:
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
            block = active.block
            offset = t - active.block_start
            if active.multipliers is None and 0 <= offset < len(block):
                values = block[offset]  # finite by construction
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
            log = bool(every) and (force_log or t % every == 0) and (log_at_end or not _training_ends(trainer))
            if log or self.save_history:
                self._record(trainer, log=log)

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
        return values

    def _record(self, trainer: pl.Trainer, *, log: bool) -> None:
        step = trainer.global_step
        metrics = {
            label: value
            for active in self._active
            for label, value in zip(active.bound.labels, active.values, strict=True)
        }
        if self.save_history:
            self.history.append({"step": float(step), "epoch": float(trainer.current_epoch), **metrics})
        if log:
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)

    # ----------------------------------------------------------------- preview
    def simulate(self, num_events: int, initial: float | Sequence[float] = 1.0) -> np.ndarray:
        """Values this callback would apply at events ``0 .. num_events - 1``.

        Args:
            num_events: number of steps (``interval="step"``) or epochs (``"epoch"``).
            initial: the value each target holds at the start (only used by relative targets);
                a list gives one column per param group.

        Returns:
            A float64 array of shape ``(num_events,)`` for one value, else ``(num_events, k)`` with
            one column per value, bindings in order and param groups within each binding.

        """
        n = check_int("num_events", num_events, minimum=0)
        _, columns = self._columns(n, initial, length=max(n, 1))
        if len(columns) == 1:
            return columns[0]
        return np.stack(columns, axis=1)

    def _columns(
        self, num_events: int, initial: float | Sequence[float], length: int
    ) -> tuple[list[str], list[np.ndarray]]:
        """Labels and values of every applied value over ``num_events`` events of a fit ``length`` long."""
        init = _check_initial(initial)
        ts = np.arange(num_events, dtype=np.float64)
        labels: list[str] = []
        columns: list[np.ndarray] = []
        token = _PREVIEW_TOTAL.set(length)  # fractions of training resolve against this length
        try:
            for binding in self._bindings():
                bases = binding.preview_bases(init)
                schedules, scale = binding.resolve(bases)
                name = binding.target.name or self.name or binding.target.describe()
                for j, schedule in enumerate(self._resolved(schedules)):
                    label = name if len(schedules) == 1 else f"{name}/pg{j + 1}"
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
        finally:
            _PREVIEW_TOTAL.reset(token)
        return labels, columns

    def plot(self, num_events: int, initial: float | Sequence[float] = 1.0, ax: Axes | None = None) -> Axes:
        """Plot :meth:`simulate` on ``ax`` (a new figure if ``None``) and return the ``Axes``.

        Needs matplotlib (``pip install 'lightning_schedulers[plot]'``).
        """
        from lightning_schedulers._plotting import plot_columns

        n = check_int("num_events", num_events, minimum=0)
        labels, columns = self._columns(n, initial, length=max(n, 1))
        return plot_columns(np.stack(columns, axis=1), labels, xlabel=self.interval, ax=ax)


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


def _describe(value: Any) -> str:
    """A value as ``repr`` shows it: callables by name (no addresses), sequences item by item."""
    if callable(value) and not isinstance(value, (SchedulerCallback, Schedule)):
        return callable_name(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)


def fit_length(trainer: pl.Trainer, interval: str, who: str) -> int:
    """Total optimizer steps (or epochs) of this fit, or a clear error when it is unknown."""
    if interval == "epoch":
        epochs = trainer.max_epochs
        if epochs is None or epochs < 0:
            raise ValueError(f"{who}: the number of epochs is unknown (max_epochs={epochs}); give the length")
        return int(epochs)
    total = trainer.estimated_stepping_batches
    # Lightning answers inf, or max_steps (-1 when unset), when the length cannot be known.
    if not math.isfinite(total) or total < 1:
        raise ValueError(
            f"{who}: the total number of optimizer steps is unknown (estimated_stepping_batches={total}, "
            f"max_steps={trainer.max_steps}); set max_steps or give the length in steps"
        )
    return int(total)


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
