"""When plateau decisions are taken in a Trainer fit: the hooks of the plateau callbacks.

After every validation run (the default when the fit validates), at the end of every training
epoch (``check_on_train_epoch_end``, or a fit without validation), or every ``frequency`` training
steps or epochs (``interval``), each read where Lightning reads a plateau scheduler's monitor. The
decision itself (the rule, the multipliers, the write) is
:class:`~lightning_schedulers.callbacks.reduce._ReduceOnPlateau`'s.
"""

from __future__ import annotations

from typing import Any, cast

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.engine.run import Run
from lightning_schedulers.lightning.decisions import (
    Decisions,
    missing_metric_message,
    same_tensor,
    shared_reading,
    step_decision_due,
    validation_skipped,
)
from lightning_schedulers.lightning.host import TrainerHost
from lightning_schedulers.plateau import PlateauState

__all__: list[str] = []


class _PlateauTiming(SchedulerCallback):
    """The plateau callbacks' hooks: where a decision is taken, and on what value."""

    monitor: str
    strict: bool
    check_on_train_epoch_end: bool | None
    state: PlateauState

    #: The first event a decision may change. A metric read while the targets hold an earlier event
    #: (for ``interval="epoch"``, at the end of an epoch: the next epoch's) is ignored, not counted,
    #: so the rule starts afresh there (timm's ``PlateauLRScheduler`` during its warmup). 0: all count.
    decide_from: int = 0

    def _decide(self, run: Run, active: Active, value: float, *, write: bool = True) -> None:
        """One step of the decision rule (the subclass's)."""
        raise NotImplementedError

    def _take(self, run: Run, active: Active, value: float, *, write: bool = True) -> None:
        """Decide on ``value``, unless the targets hold an event before :attr:`decide_from` (the value is ignored)."""
        if run.held() >= self.decide_from:
            self._decide(run, active, value, write=write)

    @property
    def _fit(self) -> Decisions | None:
        """This fit's decision bookkeeping (made when the fit starts, dropped with its run)."""
        run = self._run
        return None if run is None else run.parts.get("plateau")

    # -- the target and its schedule
    # -- the decision
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # What the monitor holds before this run: if it is the same object afterwards, this run
        # did not log it (Lightning keeps the last logged value in callback_metrics).
        fit = self._fit
        if fit is not None:
            fit.metric_before = trainer.callback_metrics.get(self.monitor)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run, fit = self._run, self._fit
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or run is None or fit is None:
            return
        active = fit.active
        if fit.step_due:  # the batch's decision, after its validation: what Lightning will read
            fit.step_snapshot = trainer.callback_metrics.get(self.monitor)
        if active is None or fit.at_epoch_end or fit.at_steps:
            return
        fit.validations_seen += 1
        metric = trainer.callback_metrics.get(self.monitor)
        stale = same_tensor(metric, fit.metric_before)
        fit.metric_before = None
        value = self._shared(run, metric, stale)
        if value == "stale":
            self._warn_once(
                "stale",
                f"{type(self).__name__}: a validation run ended without logging {self.monitor!r}; it takes no "
                "decision (the value an earlier run logged is not counted again)",
            )
            return
        if isinstance(value, float):
            self._take(run, active, value)
        else:
            self._missing_metric(sorted(trainer.callback_metrics), "after a validation run")

    # -- decisions after training batches (interval="step"): where Lightning takes them, after the
    # batch's validation; read at the next batch's start, or at the epoch's end (the last batch).
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        fit = self._fit
        if (
            fit is not None
            and fit.at_steps
            and fit.active is not None
            and step_decision_due(trainer, batch_idx, fit.every)
        ):
            fit.step_due = True
            fit.step_snapshot = trainer.callback_metrics.get(self.monitor)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        fit = self._fit
        if fit is not None and fit.step_due:
            self._step_decision(trainer.callback_metrics.get(self.monitor))
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)

    def _step_decision(self, metric: Any, *, write: bool = True) -> None:
        """Lightning's decision after a batch, on ``metric`` (strict as Lightning: a missing one is an error)."""
        run, fit = self._run, self._fit
        if run is None or fit is None or fit.active is None:
            return
        fit.step_due, fit.step_snapshot = False, None
        value = self._shared(run, metric, stale=False)
        if isinstance(value, float):
            self._take(run, fit.active, value, write=write)
        else:
            assert fit.trainer is not None
            self._missing_metric(sorted(fit.trainer.callback_metrics), "after a training batch")

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fit = self._fit
        if fit is not None and fit.epoch_deferred:
            self._epoch_decision(trainer, final=True)
        super().on_train_epoch_start(trainer, pl_module)
        if fit is not None and fit.at_epoch_end:
            fit.epoch_snapshot = trainer.callback_metrics.get(self.monitor)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Before the base's write of the next epoch's value (interval="epoch"), so that it is reduced.
        run, fit = self._run, self._fit
        if run is None or fit is None or fit.active is None:
            return
        if fit.step_due:  # the epoch's last batch (callback_metrics shows the epoch's aggregates now)
            self._step_decision(fit.step_snapshot)
        done = cast(TrainerHost, run.host).epoch_done()
        if (
            done
            and not fit.at_epoch_end
            and not fit.at_steps
            and not fit.validations_seen
            and validation_skipped(trainer)
        ):
            self._no_validation_batches(run, fit)
        # As Lightning's plateau path: no decision at the end of an epoch cut short by max_steps.
        if fit.at_epoch_end and done and fit.epoch_due(trainer.current_epoch):
            self._epoch_decision(trainer, final=False)
        super().on_train_epoch_end(trainer, pl_module)

    def _no_validation_batches(self, run: Run, fit: Decisions) -> None:
        """Validation was due after this epoch and had no batches (an empty val dataloader): say so now."""
        message = (
            f"{type(self).__name__}: validation was due after this epoch but its dataloader has no batches, so no "
            f"validation runs to decide on {self.monitor!r}"
        )
        if self.check_on_train_epoch_end is None:
            # Decide where Lightning's plateau path does when no validation runs: at each epoch's end.
            fit.at_epoch_end = True
            run.warn_once("empty-val", message + "; deciding at the end of each training epoch instead")
            return
        if self.strict:
            raise ValueError(
                message + " (check_on_train_epoch_end=False). Fix the val dataloader, leave check_on_train_epoch_end="
                "None to decide at the end of each training epoch, or pass strict=False to train without reductions"
            )
        run.warn_once("empty-val", message + "; strict=False: no reduction will happen")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The last epoch's decision, on a metric logged in LightningModule.on_train_epoch_end:
        # kept in the state (a longer fit resumed from here continues from it), nothing written.
        fit = self._fit
        if fit is None:
            return
        if fit.step_due:
            self._step_decision(fit.step_snapshot, write=False)
        if fit.epoch_deferred:
            self._epoch_decision(trainer, final=True, write=False)
        if (
            fit.active is not None
            and fit.validates
            and not fit.at_epoch_end
            and not fit.at_steps
            and not fit.validations_seen
        ):
            # A validation_step with no batches to run it on (an empty val_dataloader, or
            # check_val_every_n_epoch beyond the fit) must not pass for a fit without plateaus.
            rank_zero_warn(
                f"{type(self).__name__}: no validation ran during this fit, so no plateau decision on "
                f"{self.monitor!r} was taken. Check val_dataloader and check_val_every_n_epoch, or pass "
                "check_on_train_epoch_end=True to decide at the end of each training epoch."
            )

    def _epoch_decision(self, trainer: pl.Trainer, *, final: bool, write: bool = True) -> None:
        """Decide on what this epoch logged, or wait until the next epoch starts (``final=False``).

        Callbacks' ``on_train_epoch_end`` runs before the LightningModule's; a metric logged there
        is read when the next epoch starts (or the fit ends), before any of its batches.
        """
        run, fit = self._run, self._fit
        if run is None or fit is None or fit.active is None:
            return
        metric = trainer.callback_metrics.get(self.monitor)
        value = self._shared(run, metric, stale=same_tensor(metric, fit.epoch_snapshot))
        if not isinstance(value, float) and not final:
            fit.epoch_deferred = True
            return
        fit.epoch_deferred = False
        if value == "stale" and fit.exact:
            value = self._shared(run, metric, stale=False)  # Lightning reads it again, logged anew or not
        if value == "stale":
            self._warn_once(
                "stale-epoch",
                f"{type(self).__name__}: a training epoch ended without a new value of {self.monitor!r}; it takes "
                "no decision (the value logged earlier is not counted again)",
            )
            return
        if not isinstance(value, float):
            self._missing_metric(sorted(trainer.callback_metrics), "at the end of a training epoch")
        else:
            self._take(run, fit.active, value, write=write)

    def _shared(self, run: Run, metric: Any, stale: bool) -> float | str | None:
        """Rank zero's reading of ``metric`` on every rank (see ``decisions.shared_reading``)."""
        return shared_reading(run.host, type(self).__name__, self.monitor, metric, stale)

    def _missing_metric(self, available: list[str], when: str) -> None:
        fit = self._fit
        where = (
            "loop"
            if fit is not None and fit.trainer is None
            else "epoch"
            if fit is not None and (fit.at_epoch_end or fit.at_steps)
            else "validation"
        )
        message = missing_metric_message(type(self).__name__, self.monitor, available, when, where)
        if self.strict:
            raise KeyError(message)
        self._warn_once("missing", message + " (strict=False: values left unchanged)")
