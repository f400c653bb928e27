"""The callback base: configuration, the family contract, and thin Lightning hooks over a per-fit run.

Where things live (see the documentation's Development page for the whole picture):

* what value at event ``t``: the pure schedules (:mod:`lightning_schedulers.schedules`);
* where it goes: :mod:`lightning_schedulers.targets`;
* which events are counted and how the value is written: :mod:`lightning_schedulers.engine`
  (clocks, bindings, the write engine, one fit's run, checkpoint records), which knows no Trainer;
* the Trainer's side: :mod:`lightning_schedulers.lightning` (its clocks, fit lengths, guards
  against other callbacks, the host a run asks);
* hand-written loops (Fabric, plain PyTorch): :mod:`lightning_schedulers.loops`.

The clock (see the Concepts page): with ``interval="step"`` the target holds ``f(t)`` while step
``t`` trains; values are written in ``on_train_start`` (after Lightning restored a checkpoint,
so a resumed fit overrides the restored values) and in ``on_train_batch_end`` as soon as the
clock has moved. With ``interval="epoch"``, ``on_train_epoch_end`` writes ``f(epoch + 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightning_schedulers._validation import check_bool, check_choice
from lightning_schedulers.callbacks.options import ClockName, Count, Interval, ResumePolicy
from lightning_schedulers.callbacks.preview import PREVIEW_TOTAL, Previewable
from lightning_schedulers.callbacks.signature import check_arguments, describe, own_parameters, public_signature
from lightning_schedulers.engine.bindings import Binding
from lightning_schedulers.engine.run import Run
from lightning_schedulers.engine.state import CLOCKS, INTERVALS, STATE_VERSION, empty_record, state_problem
from lightning_schedulers.engine.units import batch_units, check_count, checked_units
from lightning_schedulers.lightning.host import TrainerHost
from lightning_schedulers.lightning.lengths import fit_length
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.durations import TrainingFraction
from lightning_schedulers.targets import BoundParamGroups, BoundTarget, ParamGroup, Target

if TYPE_CHECKING:
    from lightning_schedulers.loops import BoundSchedule, LogFunction

__all__ = ["SchedulerCallback", "fit_length"]

_PREVIEW_TOTAL = PREVIEW_TOTAL  # the name 0.2 exported here
RESUME_POLICIES = ("replan", "continue", "restart", "rescale")
ScheduleSpec = Schedule | Sequence[Schedule]
TargetSpec = Target | str


class SchedulerCallback(Previewable, Callback):
    """Base of every scheduler callback: binds schedules to targets and applies them on a clock.

    The callback is configuration plus thin hooks: when a fit starts it makes a
    :class:`~lightning_schedulers.engine.run.Run` (the clock, the bound targets, the write engine)
    with a :class:`~lightning_schedulers.lightning.host.TrainerHost`, calls it from the hooks, and
    drops it at ``teardown``. :meth:`bind` drives the same run from a hand-written loop.

    A family class fills this contract (every method optional but :meth:`_bindings`):
    ``_bindings()`` (targets and schedules), ``_resolve(host, restored)`` (lengths and anything
    that needs the fit, before binding; ``self._dur`` resolves fractions of training),
    ``_after_bind(restored, previous)``, ``_extra_state()`` / ``_check_extra(extra)`` (plain values
    kept in the checkpoint) and ``_horizon`` (the event from which the schedule holds its last value).

    Args:
        interval: ``"step"`` (the clock counts steps, see ``clock``) or ``"epoch"``
            (``trainer.current_epoch``).
        clock: what ``interval="step"`` counts: ``"optimizer"`` (default), the steps of the
            callback's own optimizer (``trainer.global_step`` under automatic optimization; under
            manual optimization, the ``step()`` calls of that optimizer alone), ``"batch"``, the
            training batches of the fit, or ``"samples"`` / ``"tokens"``: the units consumed before
            the optimizer step now training, every micro-batch of every rank counted (lengths and
            boundaries then count that unit; see ``count``).
        count: with ``clock="samples"`` or ``"tokens"``, the units a batch holds on this rank: a
            function of the batch returning a non-negative int, or an int when every batch holds
            the same (then no collective is needed under DDP; else one small all-reduce per
            optimizer step). Default for samples: the size of the batch's first tensor.
        name: logging name; only for a callback that drives a single target.
        save_history: keep in :attr:`history` one row per event, as ignite's ``param_history``:
            the values each step (or epoch) trained with, the last write before it counting; for
            ignite's state schedulers, the values written after each event completed.
        logging_enabled: log applied values through ``trainer.loggers``.
        on_resume: what a fit resumed from a checkpoint does. The position always comes from
            the restored clock. ``"replan"`` (default): lengths resolved from the trainer are the
            stored ones while the fit's length is unchanged; in a longer (or shorter) fit the
            schedule continues from the value it applied last, with no jump: the phase in
            progress goes on from where it is to its end in the plan for the new length, and
            that plan applies from there (one line says so). ``"continue"``: keep the stored
            lengths (past them the last value holds, with a warning). ``"restart"``: the schedule
            starts again at the step or epoch of the resume, over what remains of the fit.
            ``"rescale"``: keep the position, resolve lengths from the trainer again (the value
            jumps to the new plan's).

    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The whole signature, the keyword arguments passed on to the bases included, for help(),
        # Jupyter, jsonargparse and the argument check in __new__ (type checkers read the
        # **kwargs: Unpack[...] annotations instead, see callbacks/options.py).
        cls.__signature__ = public_signature(cls)  # type: ignore[attr-defined]

    def __new__(cls, *args: Any, **kwargs: Any) -> SchedulerCallback:
        if cls is SchedulerCallback:
            raise TypeError(
                "SchedulerCallback is the base of the scheduler callbacks; use ScheduleCallback(schedule, target) for "
                "any schedule, or a family class (ls.CosineAnnealingLR, ls.OneCycleLR, ...), or subclass it"
            )
        if args or kwargs:  # not for unpickling or copying, which call __new__ with no arguments
            check_arguments(cls, args, kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        *,
        interval: Interval = "step",
        clock: ClockName = "optimizer",
        count: Count | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
    ) -> None:
        self.interval = cast(Interval, check_choice("interval", interval, INTERVALS))
        self.clock = cast(ClockName, check_choice("clock", clock, CLOCKS))
        self.count = check_count(count, clock)
        self.on_resume = cast(ResumePolicy, check_choice("on_resume", on_resume, RESUME_POLICIES))
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"`name` must be a non-empty str or None, got {name!r}")
        self.name = name
        self.save_history = check_bool("save_history", save_history)
        self.logging_enabled = check_bool("logging_enabled", logging_enabled)
        self.history: list[dict[str, float]] = []
        # Events from which the schedule has run out (it holds its last value), set by families.
        self._horizon: int | None = None
        # The callback whose fit lengths and run apply (a composite's or a plateau callback's).
        self._length_owner: SchedulerCallback = self
        self._run: Run | None = None  # this fit's; None between fits
        self._loaded_state: dict[str, Any] | None = None  # loaded, not yet taken by a fit
        self._final_state: dict[str, Any] | None = None  # the record of the last fit, after it ended
        self._created: set[tuple[int, str]] = set()  # attributes this callback created (create_new)
        self._preview_warned: set[str] = set()

    # ----------------------------------------------------------------- the family contract
    def _bindings(self) -> tuple[Binding, ...]:
        """The bindings this callback applies."""
        raise NotImplementedError

    def _resolve(self, host: Any, restored: dict[str, Any] | None) -> None:
        """Hook for classes that need the fit (its length, its optimizers) before binding.

        ``host`` has ``optimizers``; ``restored`` is what :meth:`_extra_state` returned when the
        checkpoint was written.
        """

    def _extra_state(self) -> dict[str, Any]:
        """Plain values a subclass resolved at the start of the fit, kept in the checkpoint."""
        return {}

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        """What is wrong with a checkpoint's ``extra`` state for this class, or ``None``."""
        return None

    def _after_bind(self, restored: dict[str, Any] | None, previous: list[Any] | None = None) -> None:
        """Hook run once the targets are bound, before the first value is written.

        ``previous`` holds the bindings of the same fit before a rebind (groups added, an
        optimizer recreated), whose per-slot state carries over.
        """

    def _finished(self, key: str, schedules: list[Schedule]) -> list[Schedule]:
        """The schedules of target ``key`` as this fit applies them, once resolved and planned again.

        A cooldown replaces them from its start; the default applies them as they are.
        """
        return schedules

    def _drives(self, other: SchedulerCallback) -> bool:
        """Whether ``other`` is applied by this callback (a plateau reduction's base)."""
        return False

    def _on_metrics(self, run: Run, metrics: dict[str, float]) -> None:
        """Metrics reported by a hand-written loop (``bound.step(metrics=...)``); plateau callbacks decide on them."""

    #: Whether ``history`` keeps the values written after each event (ignite's state schedulers,
    #: read once an event completes) rather than the value each event trained with.
    _history_after_events: ClassVar[bool] = False

    #: Constructor arguments that every class of a family shares; ``repr`` shows them separately.
    _COMMON_ARGUMENTS: ClassVar[frozenset[str]] = frozenset(
        (
            "interval",
            "clock",
            "count",
            "optimizer",
            "param_group_index",
            "name",
            "save_history",
            "logging_enabled",
            "on_resume",
        )
    ) | {"param_name", "create_new"}

    def _arguments(self) -> dict[str, Any]:
        """This class's own constructor arguments and their validated values, for ``repr`` and the fingerprint.

        Derived once from the signature of ``__init__``: every argument is kept as the attribute of
        the same name, so a class does not list them again.
        """
        return {name: getattr(self, name) for name in own_parameters(type(self))}

    def _describe_arguments(self) -> str:
        return ", ".join(f"{k}={describe(v)}" for k, v in self._arguments().items())

    def _config(self) -> str:
        """A description of the configuration, stored in checkpoints to detect a changed setup."""
        return repr(self)

    # ----------------------------------------------------------------- what the run provides
    @property
    def _active_run(self) -> Run | None:
        """The run this callback's values belong to (its owner's, for a composed or driven callback)."""
        owner = self
        while owner._length_owner is not owner:
            owner = owner._length_owner
        return owner._run

    @property
    def _stateless_resume(self) -> bool:
        """Whether this fit resumed from a checkpoint without this callback's state."""
        run = self._active_run
        return run is not None and run.stateless_resume

    def _warn_once(self, key: str, message: str) -> None:
        run = self._active_run
        if run is not None:
            run.warn_once(key, message)
        elif key not in self._preview_warned:
            self._preview_warned.add(key)
            rank_zero_warn(message)

    def _durations_total(self) -> int:
        """The fit's length in events, for fractions of training (``num_events`` in ``simulate``)."""
        preview = PREVIEW_TOTAL.get()
        if preview is not None:
            return preview
        if self._length_owner is not self:
            return self._length_owner._durations_total()
        if self._run is None:
            raise ValueError(
                f"{type(self).__name__}: a duration is a fraction of training, and the fit's length is only "
                "known when the fit starts; preview with simulate(num_events)"
            )
        return self._run.total()

    def _dur(self, value: int | TrainingFraction) -> int:
        """A duration in events: a fraction of training resolved against the fit's length."""
        return value.resolve(self._durations_total()) if isinstance(value, TrainingFraction) else value

    def _resolved(self, schedules: Sequence[Schedule]) -> list[Schedule]:
        """``schedules`` with every fraction of training resolved (the length is read only if needed)."""
        return [s if s.is_resolved else s.resolve(self._durations_total()) for s in schedules]

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

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = self._take_loaded_state()
        self._close_run()
        host = TrainerHost(trainer, pl_module, self)
        run = Run(self, host, state)
        host.started(run)
        run.write_initial()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run = self._run
        if run is not None:
            cast(TrainerHost, run.host).epoch_started(run)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # No clock read here: the value for this batch was written when the clock last moved.
        # Only the setup is checked (identity and length comparisons, see Run.changed).
        run = self._run
        if run is None:
            return
        if self._loaded_state is not None:
            self._restored_mid_fit(trainer, pl_module)
            run = self._run
            if run is None:
                return
        elif run.changed():
            run.rebind()
            cast(TrainerHost, run.host).rebound(run)
        units = run.units
        if units is not None:  # samples or tokens: this micro-batch's, added up when the optimizer steps
            count = self.count
            if type(count) is int:
                units.pending += count
            elif count is None:  # samples: the size of the batch's first tensor
                units.pending += batch_units(batch, None, batch_idx, self.clock)
            else:  # the user's function; its answer checked where it is not a non-negative int
                n = count(batch)  # type: ignore[operator]
                units.pending += n if type(n) is int and n >= 0 else checked_units(n, batch_idx, self.clock)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # The one read of the clock per batch: write the next step's value as soon as the
        # optimizer has stepped, so that callbacks that read it at the next batch start
        # (LearningRateMonitor) see it whatever their order.
        run = self._run
        if run is None:
            return
        engine = run.engine
        host: Any = run.host
        if run.epochly:
            # Lightning steps epoch-interval schedulers right after an epoch's last batch (before
            # on_train_batch_end: a checkpoint saved there, the epoch-end validation and loggers see
            # the next epoch's value), and not at all after an epoch cut short by max_steps.
            # The values are logged at the epoch's end, after the decisions of its last validation.
            if host.epoch_done():
                t = run.now() + 1
                if t != engine.last_t:  # type: ignore[union-attr]
                    engine.apply(t, quiet=True)  # type: ignore[union-attr]
        elif run.units is not None:  # samples or tokens: the clock moves when the optimizer has stepped
            run.units.sync()
            t = run.units.count - run.offset
            if t != engine.last_t:  # type: ignore[union-attr]
                engine.advance_units(t)  # type: ignore[union-attr]
        else:
            t = getattr(run.source, run.field) - run.offset
            if t != engine.last_t:  # type: ignore[union-attr]
                engine.advance(t)  # type: ignore[union-attr]
        if host.pending:
            host.after_batch(run)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run = self._run
        if run is not None and self.interval == "epoch" and cast(TrainerHost, run.host).epoch_done():
            t, engine = run.now() + 1, run.engine
            assert engine is not None
            if t != engine.last_t:  # the last batch skipped its hooks (on_train_batch_start returned -1)
                engine.apply(t, force_log=True)
            else:
                engine.report(t)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            # trainer.validate/test/predict(ckpt_path=...) restores callback states too; a later
            # fit without a checkpoint must not resume from it (a fit with one loads it again).
            self._loaded_state = None
        self._close_run()

    def _close_run(self) -> None:
        """Keep the fit's record, and hold no reference to the trainer or its optimizers any more."""
        run = self._run
        if run is not None:
            self._final_state = run.record()
            run.close()
            self._run = None

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
        run = self._run
        if run is not None and run.engine is not None and run.engine.history is not None:
            run.engine.history = history

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        if self._loaded_state is not None:
            # Loaded, and no fit has used it yet (a finished fit resumed, or saved before starting).
            return dict(self._loaded_state)
        if self._run is not None:
            return self._run.record()
        if self._final_state is not None:
            return dict(self._final_state)
        return empty_record(self._config(), self.interval, self.clock, self._extra_state())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        problem = state_problem(state_dict)
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

    def _take_loaded_state(self) -> dict[str, Any] | None:
        state, self._loaded_state = self._loaded_state, None
        # 0.1 (state version 1) wrote other reprs of unchanged configurations: only a fingerprint
        # of this version tells a changed configuration.
        if state is None or state.get("version") != STATE_VERSION:
            return state
        if self.on_resume in ("replan", "continue") and state.get("config") != self._config():
            rank_zero_warn(
                f"{type(self).__name__}: the checkpoint was written by a different configuration; resuming "
                "with the new one (pass on_resume='restart' or 'rescale' to say how).\n"
                f"  checkpoint: {state.get('config')}\n  now:        {self._config()}"
            )
        return state

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

    # ----------------------------------------------------------------- hand-written loops
    def bind(
        self,
        optimizers: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
        *,
        module: Any = None,
        total_steps: int | None = None,
        total_epochs: int | None = None,
        log_fn: LogFunction | None = None,
        log_every_n_steps: int = 50,
    ) -> BoundSchedule:
        """Drive this callback from a hand-written loop (Fabric, plain PyTorch): no Trainer needed.

        See :func:`lightning_schedulers.loops.bind` for the arguments; call ``step()`` after each
        optimizer step and keep ``state_dict()`` in your checkpoints.

        Examples:
            >>> import torch, lightning_schedulers as ls
            >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            >>> bound = ls.CosineAnnealingLR(T_max=4, interval="step").bind(opt)
            >>> for _ in range(2):
            ...     opt.step()
            ...     bound.step()
            >>> round(opt.param_groups[0]["lr"], 6)
            0.05
        """
        from lightning_schedulers.loops import bind

        return bind(
            self,
            optimizers,
            module=module,
            total_steps=total_steps,
            total_epochs=total_epochs,
            log_fn=log_fn,
            log_every_n_steps=log_every_n_steps,
        )


# The base's own signature, as every subclass gets one (help(), jsonargparse).
SchedulerCallback.__signature__ = public_signature(SchedulerCallback)  # type: ignore[attr-defined]
