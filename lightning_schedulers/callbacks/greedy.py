"""transformers' ``GreedyLR`` as a callback: the lr raised while a metric improves, lowered on plateaus.

Decisions are taken where :class:`~lightning_schedulers.ReduceLROnPlateau` takes them (after every
validation run, at the end of every training epoch, or ``interval``/``frequency`` as Lightning steps
a plateau scheduler of ``configure_optimizers``), with transformers' rule
(:class:`~lightning_schedulers.greedy.GreedyState`). The values are the state's, kept as multipliers
of the value each param group held when the fit started.

Examples:
    >>> cb = GreedyLR("val_loss", factor=0.5, patience=2)
    >>> cb.patience, cb.warmup, cb.max_lr
    (2, 0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lightning.pytorch.utilities import rank_zero_info

from lightning_schedulers.callbacks.options import ClockName, Interval, ResumePolicy
from lightning_schedulers.callbacks.reduce import _ReduceOnPlateau
from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.engine.run import Run
from lightning_schedulers.greedy import GreedyState
from lightning_schedulers.lightning.decisions import extra_problem
from lightning_schedulers.targets import ParamGroup, check_key

__all__ = ["GreedyLR"]


class GreedyLR(_ReduceOnPlateau):
    """transformers' ``GreedyLR`` (``get_scheduler("greedy")``) on a logged metric.

    The arguments and the rule are transformers'; fed the same metric values, the lr after each
    decision equals transformers' (to an ulp: the value is kept as a multiplier of the initial one).
    One difference, as for :class:`~lightning_schedulers.ReduceLROnPlateau`: a NaN or infinite
    metric never becomes the best value.

    Args:
        monitor: the logged metric to watch (``trainer.callback_metrics[monitor]``).
        mode: ``"min"`` or ``"max"``.
        factor: in (0, 1): the lr is multiplied by it on a plateau, divided by it on improvement.
        patience: decisions tolerated before a change (more than ``patience`` improving ones raise
            the lr, more than ``patience`` others lower it).
        threshold: the least change that counts as an improvement.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: decisions skipped after a reduction.
        warmup: decisions skipped after an increase.
        min_lr: the lower bound (absolute): a float or one per param group.
        max_lr: the upper bound (absolute): a float or one per param group.
        eps: a change of the lr by ``eps`` or less is skipped.
        verbose: report each change once, on rank zero.
        smooth: decide on the mean of the last ``window_size`` metric values.
        window_size: that mean's window.
        reset_start: reductions with every group at ``min_lr`` before restarting from the initial lrs.
        strict: a missing metric is an error; ``False`` warns once and leaves values unchanged.
        param_name: the param-group key (``"lr"`` or any key).
        optimizer: index into ``trainer.optimizers``.
        param_group_index: only this param group: its index, or its name (its ``"name"`` entry).
        name: logging name.
        save_history: keep the applied values in ``history``.
        logging_enabled: log the applied values.
        on_resume: what a resumed fit does with the stored schedule (see the base class).
        clock: what the step clock counts.
        check_on_train_epoch_end: where decisions are taken, as for ``ReduceLROnPlateau``.
        interval: as ``ReduceLROnPlateau``'s: where Lightning steps a plateau scheduler of
            ``configure_optimizers`` with ``{"interval": interval, "frequency": frequency}``.
        frequency: with ``interval``, decide every this many batches (epochs).

    Examples:
        >>> cb = GreedyLR("val_loss", mode="max", min_lr=[0.0, 1e-4])
        >>> cb.min_lr, cb.mode
        ((0.0, 0.0001), 'max')
    """

    _floor_name = "min_lr"
    state: GreedyState

    def __init__(
        self,
        monitor: str,
        mode: str = "min",
        factor: float = 0.95,
        patience: int = 10,
        threshold: float = 1e-6,
        threshold_mode: str = "abs",
        cooldown: int = 0,
        warmup: int = 0,
        min_lr: float | Sequence[float] = 1e-3,
        max_lr: float | Sequence[float] = 1.0,
        eps: float = 1e-8,
        verbose: bool = False,
        smooth: bool = False,
        window_size: int = 50,
        reset_start: int = 500,
        strict: bool = True,
        *,
        param_name: str = "lr",
        optimizer: int | str = 0,
        param_group_index: int | str | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
        clock: ClockName = "optimizer",
        check_on_train_epoch_end: bool | None = None,
        interval: Interval | None = None,
        frequency: int = 1,
    ) -> None:
        target = ParamGroup(
            check_key("param_name", param_name), optimizer=optimizer, param_group_index=param_group_index
        )
        super().__init__(
            monitor,
            target,
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
            strict,
            verbose,
            None,
            name,
            save_history,
            logging_enabled,
            on_resume,
            clock,
            check_on_train_epoch_end,
            interval,
            frequency,
        )
        s = self.state
        self.state = GreedyState(
            s.mode,
            s.patience,
            s.threshold,
            s.threshold_mode,
            s.cooldown,
            factor=self.factor,
            warmup=warmup,
            min_lr=min_lr,
            max_lr=max_lr,
            eps=self.eps,
            smooth=smooth,
            window_size=window_size,
            reset_start=reset_start,
        )

    # The rule's settings, readable as on transformers' scheduler.
    @property
    def warmup(self) -> int:
        """Decisions skipped after an increase."""
        return self.state.warmup

    @property
    def min_lr(self) -> float | tuple[float, ...]:
        """The lower bound."""
        return self.state.min_lr  # type: ignore[return-value]

    @property
    def max_lr(self) -> float | tuple[float, ...]:
        """The upper bound."""
        return self.state.max_lr  # type: ignore[return-value]

    @property
    def smooth(self) -> bool:
        """Whether decisions are taken on the running mean of the metric."""
        return self.state.smooth

    @property
    def window_size(self) -> int:
        """The running mean's window."""
        return self.state.window_size

    @property
    def reset_start(self) -> int:
        """Reductions at ``min_lr`` before a restart."""
        return self.state.reset_start

    def __repr__(self) -> str:
        s = self.state
        return (
            f"GreedyLR(monitor={self.monitor!r}, mode={s.mode!r}, factor={s.factor!r}, patience={s.patience}, "
            f"threshold={s.threshold!r}, threshold_mode={s.threshold_mode!r}, cooldown={s.cooldown}, "
            f"warmup={s.warmup}, min_lr={s.min_lr!r}, max_lr={s.max_lr!r}, eps={s.eps!r}, smooth={s.smooth}, "
            f"window_size={s.window_size}, reset_start={s.reset_start}, target={self.target.describe()!r}"
            f"{self._when()})"
        )

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        # The multipliers may exceed 1 here (an increase): checked apart from the plateau callbacks' check.
        multipliers = extra.get("multipliers")
        problem = extra_problem({k: v for k, v in extra.items() if k != "multipliers"}, self.state.mode)
        if (
            problem is None
            and multipliers is not None
            and (
                not isinstance(multipliers, list)
                or not all(
                    isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m) and m >= 0
                    for m in multipliers
                )
            )
        ):
            return f"extra['multipliers'] is {multipliers!r}"
        if problem is None and isinstance(extra.get("plateau"), dict):
            try:
                GreedyState(self.state.mode).load_state_dict(extra["plateau"])
            except (KeyError, TypeError, ValueError) as error:
                return f"extra['plateau'] is {extra['plateau']!r} ({type(error).__name__}: {error})"
        return problem

    def _after_bind(self, restored: dict[str, Any] | None, previous: list[Active] | None = None) -> None:
        run = self._run
        assert run is not None
        if not self.state.lrs and (restored is None or not isinstance(restored.get("plateau"), dict)):
            # A fresh start: the values held now (the state must know them before any restored decision).
            matching = [a for a in run.actives if a.key == self._target_key()]
            if len(matching) == 1:
                active = matching[0]
                self.state.start([active.raw_value(j, max(run.held(), 0)) for j in range(len(active.schedules))])
        super()._after_bind(restored, previous)
        fit = self._fit
        assert fit is not None and fit.active is not None
        active = fit.active
        slots = len(active.schedules)
        t = max(run.held(), 0)
        if len(self.state.lrs) < slots:  # groups added during the fit start at the value they were added with
            self.state.extend([active.raw_value(j, t) for j in range(len(self.state.lrs), slots)])
        self._set_multipliers(active, t)

    def _set_multipliers(self, active: Active, t: int) -> None:
        multipliers = []
        for j, lr in enumerate(self.state.lrs[: len(active.schedules)]):
            raw = active.raw_value(j, t)
            multipliers.append(1.0 if lr == raw else lr / raw if raw != 0 else 1.0)
        active.multipliers = multipliers

    def _decide(self, run: Run, active: Active, value: float, *, write: bool = True) -> None:
        """One step of transformers' rule on ``value``; a change applies to the values that train next."""
        if not self.state.step(value):
            return
        t = max(run.held(), 0)
        before = list(active.values)
        self._set_multipliers(active, t)
        if write:
            run.host.write_changed(run)  # every change is logged
        if self.verbose:
            assert run.engine is not None
            after = list(active.values) if write else run.engine.values_at(active, t)
            if before != after:
                rank_zero_info(f"{type(self).__name__}: {self.monitor}; {active.bound.labels} {before} -> {after}")
