"""The machinery the plateau callbacks share: the decision, the multipliers, the base schedule, their state.

When decisions are taken in a Trainer fit (the hooks) is :mod:`lightning_schedulers.callbacks.plateau_timing`.

The public classes, :class:`~lightning_schedulers.ReduceLROnPlateau` and
:class:`~lightning_schedulers.ReduceAttributeOnPlateau`, are in :mod:`lightning_schedulers.callbacks.plateau`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, cast

import torch
from lightning.pytorch.utilities import rank_zero_info

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int, check_sequence
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.options import ClockName, Interval, ResumePolicy
from lightning_schedulers.callbacks.plateau_timing import _PlateauTiming
from lightning_schedulers.engine.bindings import Active, Binding
from lightning_schedulers.engine.run import Run
from lightning_schedulers.engine.state import INTERVALS
from lightning_schedulers.lightning.decisions import (
    Decisions,
    epoch_end_due_now,
    extra_problem,
    has_validation,
    read_metric,
    same_tensor,
    validation_due_now,
    warn_lost_decision,
)
from lightning_schedulers.plateau import PlateauState, reduced_multiplier
from lightning_schedulers.schedules.shapes import Constant
from lightning_schedulers.targets import Attribute, ParamGroup, Target

__all__: list[str] = []


class _ReduceOnPlateau(_PlateauTiming):
    """Shared machinery: the decision, the multipliers, the base schedule, checkpoint state."""

    def __init__(
        self,
        monitor: str,
        target: Target,
        mode: str,
        factor: float,
        patience: int,
        threshold: float,
        threshold_mode: str,
        cooldown: int,
        floor: float | Sequence[float],
        eps: float,
        strict: bool,
        verbose: bool,
        base: SchedulerCallback | None,
        name: str | None,
        save_history: bool,
        logging_enabled: bool,
        on_resume: ResumePolicy,
        clock: ClockName = "optimizer",
        check_on_train_epoch_end: bool | None = None,
        interval: Interval | None = None,
        frequency: int = 1,
        decide_from: int = 0,
    ) -> None:
        if base is not None and not isinstance(base, SchedulerCallback):
            raise TypeError(f"`base` must be a scheduler callback of this package or None, got {base!r}")
        if isinstance(base, _ReduceOnPlateau):
            raise TypeError("`base` cannot itself be a plateau callback; reduce once, with one factor")
        decide = None if interval is None else cast(Interval, check_choice("interval", interval, INTERVALS))
        every = check_int("frequency", frequency, minimum=1)
        if decide is None and every != 1:
            raise ValueError(
                f"`frequency`={frequency!r} counts steps or epochs: give `interval` ('step' or 'epoch') with it, "
                "as in Lightning's lr scheduler config"
            )
        if decide is not None and check_on_train_epoch_end is not None:
            raise ValueError(
                f"give `interval` ({interval!r}) or `check_on_train_epoch_end` ({check_on_train_epoch_end!r}), not "
                "both: `interval` decides where Lightning's configure_optimizers path steps a plateau scheduler"
            )
        self.decision_interval: Interval | None = decide
        self.frequency = every
        self.decide_from = check_int("decide_from", decide_from, minimum=0)
        # The clock: the base's; without a base, the decisions' interval (a constant: only logging follows it).
        clock_interval: Interval = base.interval if base is not None else (decide or "epoch")
        super().__init__(
            interval=clock_interval,
            clock=base.clock if base is not None else clock,
            count=base.count if base is not None else None,
            name=name,
            save_history=save_history,
            logging_enabled=logging_enabled,
            on_resume=on_resume,
        )
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"`monitor` must be a non-empty str, got {monitor!r}")
        self.monitor = monitor
        self.factor = check_float("factor", factor)
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"`factor` must be in (0, 1), got {factor!r}")
        self.eps = check_float("eps", eps, non_negative=True)
        self.strict = check_bool("strict", strict)
        self.verbose = check_bool("verbose", verbose)
        if check_on_train_epoch_end is not None and not isinstance(check_on_train_epoch_end, bool):
            raise TypeError(
                f"`check_on_train_epoch_end` must be a bool or None, got {check_on_train_epoch_end!r} "
                f"({type(check_on_train_epoch_end).__name__})"
            )
        self.check_on_train_epoch_end = check_on_train_epoch_end
        self.state = PlateauState(mode, patience, threshold, threshold_mode, cooldown)
        self.floor: float | tuple[float, ...] = (
            tuple(
                check_float(f"{self._floor_name}[{i}]", v)
                for i, v in enumerate(check_sequence(self._floor_name, floor))
            )
            if isinstance(floor, (list, tuple))
            else check_float(self._floor_name, floor)
        )
        self.target = target
        self.base = base
        if base is not None:
            base._length_owner = self  # the base runs in this callback's run: its clock, lengths, resume policy

    _floor_name = "floor"

    # The decision rule's settings, readable on the callback as on torch's and transformers' schedulers.
    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``."""
        return self.state.mode

    @property
    def patience(self) -> int:
        """Decisions without improvement tolerated before a reduction."""
        return self.state.patience

    @property
    def threshold(self) -> float:
        """The least change that counts as an improvement."""
        return self.state.threshold

    @property
    def threshold_mode(self) -> str:
        """``"rel"`` or ``"abs"``."""
        return self.state.threshold_mode

    @property
    def cooldown(self) -> int:
        """Decisions after a reduction during which no bad decision is counted."""
        return self.state.cooldown

    def _when(self) -> str:
        # In repr (the checkpoint fingerprint) only when given: fingerprints written before keep matching.
        chosen = self.check_on_train_epoch_end
        when = "" if chosen is None else f", check_on_train_epoch_end={chosen}"
        if self.decision_interval is not None:
            when += f", interval={self.decision_interval!r}"
        if self.frequency != 1:
            when += f", frequency={self.frequency}"
        if self.decide_from:
            when += f", decide_from={self.decide_from}"
        return when

    def _bindings(self) -> tuple[Binding, ...]:
        if self.base is None:
            # No schedule: the value held when the fit started, kept (and checkpointed) as the base.
            return (Binding(dataclasses.replace(self.target, relative=True), (Constant(1.0),)),)
        return self.base._bindings()

    def _stateless_bases(self, binding: Binding, bound: Any, current: list[float], t: int) -> list[float]:
        # Reductions continue from the value held now (as torch's ReduceLROnPlateau would), which
        # is right after earlier reductions too; only a base schedule can be applied twice.
        if self.base is None:
            return current
        return super()._stateless_bases(binding, bound, current, t)

    def _resolve(self, host: Any, restored: dict[str, Any] | None) -> None:
        run = self._run
        assert run is not None
        # A reused instance decides afresh (a resumed fit then loads its state).
        self.state = self.state.fresh()
        trainer = getattr(host, "trainer", None)  # None in a hand-written loop: it reports metrics itself
        validates = trainer is None or has_validation(trainer)
        chosen, decide = self.check_on_train_epoch_end, self.decision_interval
        # As Lightning steps a plateau scheduler of configure_optimizers: with no validation loop,
        # at the end of every training epoch, on what training logged.
        at_epoch_end = decide == "epoch" if decide is not None else not validates if chosen is None else bool(chosen)
        fit = run.parts["plateau"] = Decisions(
            trainer, at_epoch_end, validates, at_steps=decide == "step", every=self.frequency, exact=decide is not None
        )
        if trainer is not None and not fit.at_epoch_end and not fit.at_steps and not validates:
            message = (
                f"{type(self).__name__}: this fit runs no validation (no validation_step, or limit_val_batches=0), "
                f"and check_on_train_epoch_end=False decides after each validation run on {self.monitor!r}; add a "
                "validation loop, or leave check_on_train_epoch_end=None to decide at the end of each training epoch"
            )
            if self.strict:
                raise ValueError(message + " (or pass strict=False to train without reductions)")
            self._warn_once("no-validation", message + "; strict=False: no reduction will happen")
        if self.base is not None:
            self.base._resolve(host, (restored or {}).get("base"))
            self._horizon = self.base._horizon

    def _drives(self, other: SchedulerCallback) -> bool:
        return other is self.base

    def _extra_state(self) -> dict[str, Any]:
        fit = self._fit
        active = fit.active if fit is not None else None
        multipliers = active.multipliers if active is not None else None
        trainer = fit.trainer if fit is not None else None
        at_epoch_end = (
            fit is not None and fit.at_epoch_end and (trainer is None or fit.epoch_due(trainer.current_epoch))
        )
        extra = {
            "plateau": self.state.state_dict(),
            "multipliers": list(multipliers) if multipliers is not None else None,
            "base": self.base._extra_state() if self.base is not None else {},
            "pending_validation": not at_epoch_end and trainer is not None and validation_due_now(trainer),
            "pending_epoch_end": at_epoch_end and trainer is not None and epoch_end_due_now(trainer),
            "epoch_metric": self._deferred_metric(),
        }
        if self.decision_interval == "step":
            extra.update(self._pending_step())
        return extra

    def _pending_step(self) -> dict[str, Any]:
        """A batch's decision not taken yet when the checkpoint is written: its metric, to take it on resume.

        Saved at that batch's ``on_train_batch_end`` (``ModelCheckpoint(every_n_train_steps)``) or
        after its validation (``on_validation_end``). Where a validation is still due after the
        batch, its metric is not known: the decision is lost (a resumed fit skips that validation), said on resume.
        """
        fit = self._fit
        trainer = fit.trainer if fit is not None else None
        if fit is None or trainer is None or not fit.step_due:
            return {"pending_validation": False, "step_metric": None}
        if validation_due_now(trainer):
            return {"pending_validation": True, "step_metric": None}
        metric = trainer.callback_metrics.get(self.monitor)
        reading = None if metric is None else read_metric(type(self).__name__, self.monitor, metric)
        return {"pending_validation": False, "step_metric": reading if isinstance(reading, float) else None}

    def _deferred_metric(self) -> float | None:
        """A decision waiting for the next epoch's start, and its metric already logged: save it.

        A checkpoint written at the end of an epoch (``ModelCheckpoint(save_on_train_epoch_end=True)``,
        after the LightningModule's ``on_train_epoch_end``) is resumed at the next epoch, so the
        decision is taken when the state loads.
        """
        fit = self._fit
        if fit is None or not fit.epoch_deferred or fit.trainer is None:
            return None
        metric = fit.trainer.callback_metrics.get(self.monitor)
        if metric is None or same_tensor(metric, fit.epoch_snapshot):
            return None
        reading = read_metric(type(self).__name__, self.monitor, metric)
        return reading if isinstance(reading, float) else None

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        problem = extra_problem(extra, self.state.mode)
        if problem is None and extra and self.base is not None:
            return self.base._check_extra(extra.get("base", {}))
        return problem

    def _matches(self, binding_target: Target) -> bool:
        t = self.target
        if isinstance(t, Attribute):
            return isinstance(binding_target, Attribute) and binding_target.path == t.path
        return (
            isinstance(binding_target, ParamGroup)
            and binding_target.key == t.key
            and binding_target.optimizer == t.optimizer
            and binding_target.param_group_index == t.param_group_index
        )

    def _after_bind(self, restored: dict[str, Any] | None, previous: list[Active] | None = None) -> None:
        run, fit = self._run, self._fit
        assert run is not None and fit is not None
        matching = [a for a in run.actives if a.key == self._target_key()]
        if len(matching) != 1:
            described = [b.target.describe() for b in self._bindings()]
            raise ValueError(
                f"{type(self).__name__}: the base drives {described}, none of them {self.target.describe()}; "
                "give the plateau callback the base's target"
            )
        active = matching[0]
        slots = len(active.schedules)
        before = next((a for a in previous or () if a.key == active.key), None)
        known = len(before.schedules) if before is not None else slots
        if isinstance(self.floor, tuple):
            if len(self.floor) != known:
                raise ValueError(
                    f"`{self._floor_name}` has {len(self.floor)} values but {self.target.describe()} has {known} "
                    "param group(s)"
                )
            floors = list(self.floor)[:slots]
            if slots > len(floors):  # groups added during the fit
                self._warn_once(
                    f"floor:{slots}",
                    f"{type(self).__name__}: `{self._floor_name}` has {len(floors)} values, and param group(s) "
                    f"{list(range(len(floors), slots))} appeared during the fit; they are reduced without a floor "
                    f"({self._floor_name}=0)",
                )
                floors += [0.0] * (slots - len(floors))
            active.floors = floors
        else:
            active.floors = [self.floor] * slots
        active.multipliers = [1.0] * slots
        if before is not None and before.multipliers is not None:
            # A rebind: reductions so far stay; a new group starts unreduced from the value it was added with.
            kept = before.multipliers[:slots]
            active.multipliers = kept + [1.0] * (slots - len(kept))
        elif restored is not None and isinstance(restored.get("plateau"), dict):
            self.state.load_state_dict(restored["plateau"])
            saved = restored.get("multipliers")
            if isinstance(saved, list) and len(saved) <= slots:
                active.multipliers = [float(m) for m in saved] + [1.0] * (slots - len(saved))
            for key in ("epoch_metric", "step_metric"):
                metric = restored.get(key)
                if isinstance(metric, (int, float)):
                    # Saved at an epoch's end (or after a batch) before its decision (the metric was
                    # logged after this callback's hook): take it now, before the first value of the resumed fit.
                    self._take(run, active, float(metric), write=False)
            warn_lost_decision(self, restored, self.state.decisions + 1)
        fit.active = active

    def _target_key(self) -> str:
        for binding in self._bindings():
            if self._matches(binding.target):
                return binding.target.describe()
        return self.target.describe()

    def _on_metrics(self, run: Run, metrics: dict[str, float]) -> None:
        """A hand-written loop reported metrics (``bound.step(metrics=...)``): one decision on the monitor."""
        fit = self._fit
        if fit is None or fit.active is None:
            return
        metric = metrics.get(self.monitor)
        value = self._shared(run, metric, stale=False)
        if isinstance(value, float):
            self._take(run, fit.active, value)
        else:
            self._missing_metric(sorted(metrics), "in the metrics passed to step()")

    def _decide(self, run: Run, active: Active, value: float, *, write: bool = True) -> None:
        """One step of the decision rule on ``value``; a reduction scales the values that train next."""
        if not self.state.step(value):
            return
        # The values that train next: those of the event the targets hold (the coming step; for
        # interval="epoch", after an epoch's last batch, the next epoch's).
        t = run.held()
        before = list(active.values)
        active.multipliers = self._reduced(active, max(t, 0))
        if write:
            run.host.write_changed(run)  # every reduction is logged
        if self.verbose:
            assert run.engine is not None
            after = list(active.values) if write else run.engine.values_at(active, max(t, 0))
            if before != after:
                fit = self._fit
                what = (
                    "epoch(s)"
                    if fit is not None and fit.at_epoch_end
                    else "decision(s) after training batches"
                    if fit is not None and fit.at_steps
                    else "validation(s)"
                )
                rank_zero_info(
                    f"{type(self).__name__}: {self.monitor} has not improved for {self.state.patience + 1} "
                    f"{what}; {active.bound.labels} {before} -> {after}"
                )

    def _reduced(self, active: Active, t: int) -> list[float]:
        """The multipliers after one reduction of the values of event ``t`` (torch's rule, ``floor`` included)."""
        multipliers = active.multipliers or [1.0] * len(active.schedules)
        return [
            reduced_multiplier(active.raw_value(j, t), m, self.factor, active.floors[j], self.eps)
            for j, m in enumerate(multipliers)
        ]

    def simulate(
        self,
        num_events: int,
        initial: float | Sequence[float] | None = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
        units_per_step: int | None = None,
    ) -> Any:
        """The values before any reduction (a reduction depends on metrics not known in advance)."""
        return super().simulate(num_events, initial, optimizers, units_per_step)
