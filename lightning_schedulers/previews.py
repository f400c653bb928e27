"""Preview a fit before running it: every value every scheduler callback would apply, per step.

:func:`preview` takes scheduler callbacks and a description of the fit (a :class:`FitPlan`, a dict
of its fields, or an unfitted ``Trainer`` plus ``batches_per_epoch``) and returns a
:class:`Preview`: the value of every target at every optimizer step, epoch-interval callbacks and
fractions of training included. It uses the same pure schedules as the fit, so it is exactly what
the fit applies (``tests/test_preview.py`` checks it against a real ``Trainer.fit``).

``python -m lightning_schedulers preview CONFIG.yaml --out schedule.png`` does the same from a
LightningCLI-style YAML file, prints a table of values at milestones and writes a plot.

Examples:
    >>> import lightning_schedulers as ls
    >>> plan = ls.FitPlan(max_epochs=2, batches_per_epoch=10, accumulate_grad_batches=2)
    >>> result = ls.preview([ls.WarmupCosineLR(warmup_steps=0.2), ls.StepLR(1)], plan, initial=0.1)
    >>> result.steps, sorted(result.values)
    (10, ['StepLR:lr-optimizer0', 'WarmupCosineLR:lr-optimizer0'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lightning_schedulers._validation import check_int, check_sequence
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.ramp import BatchSizeRamp, RampPlan, ramp_of

if TYPE_CHECKING:
    import torch

__all__ = ["FitPlan", "Preview", "preview"]


@dataclass(frozen=True)
class FitPlan:
    """The shape of a fit, as far as scheduling is concerned.

    Args:
        max_epochs: epochs of the fit (``None`` or -1: limited by ``max_steps`` only).
        max_steps: optimizer steps of the fit (-1: limited by ``max_epochs`` only).
        batches_per_epoch: batches of the training dataloader on a single device.
        accumulate_grad_batches: batches per optimizer step, or Lightning's
            ``GradientAccumulationScheduler`` scheduling (``{epoch: batches}``, from that epoch on).
        devices: data-parallel processes; each sees ``ceil(batches_per_epoch / devices)`` batches.
        samples_per_step: samples every optimizer step consumes (all micro-batches of all ranks),
            for callbacks with ``clock="samples"``.
        tokens_per_step: tokens every optimizer step consumes, for ``clock="tokens"``.
        batch_size_ramp: a :class:`~lightning_schedulers.BatchSizeRamp` of the fit, which sets the
            accumulation step by step (``accumulate_grad_batches`` stays 1).
        units_per_batch: for a ramp on samples or tokens whose ``count`` is a function: the units
            a batch holds on each process.

    Examples:
        >>> FitPlan(max_epochs=3, batches_per_epoch=100, accumulate_grad_batches=4, devices=2).total_steps
        39
        >>> FitPlan(max_epochs=3, batches_per_epoch=100, accumulate_grad_batches={0: 4, 2: 1}).total_steps
        150
        >>> from lightning_schedulers.callbacks.ramp import BatchSizeRamp
        >>> FitPlan(max_epochs=3, batches_per_epoch=100, batch_size_ramp=BatchSizeRamp({0: 1, 100: 4})).total_steps
        150
    """

    max_epochs: int | None = None
    max_steps: int = -1
    batches_per_epoch: int = 1
    accumulate_grad_batches: int | Mapping[int, int] = 1
    devices: int = 1
    samples_per_step: int | None = None
    tokens_per_step: int | None = None
    batch_size_ramp: BatchSizeRamp | None = None
    units_per_batch: int | None = None

    def __post_init__(self) -> None:
        if self.max_epochs is not None and self.max_epochs != -1:
            check_int("max_epochs", self.max_epochs, minimum=1)
        if check_int("max_steps", self.max_steps, minimum=-1) == 0:
            raise ValueError(
                "`max_steps` must be -1 (no limit) or >= 1 (a plan of zero steps has nothing to show), got 0"
            )
        check_int("batches_per_epoch", self.batches_per_epoch, minimum=1)
        accumulation = self.accumulate_grad_batches
        if isinstance(accumulation, Mapping):
            if not accumulation:
                raise ValueError(
                    "`accumulate_grad_batches` as a mapping needs at least one {epoch: batches} entry, "
                    f"got {accumulation!r}"
                )
            for epoch, batches in accumulation.items():
                check_int(f"accumulate_grad_batches key {epoch!r}", epoch, minimum=0)
                check_int(f"accumulate_grad_batches[{epoch!r}]", batches, minimum=1)
            # As GradientAccumulationScheduler: epochs before the first key accumulate 1 batch.
            object.__setattr__(self, "accumulate_grad_batches", {0: 1, **dict(sorted(accumulation.items()))})
        else:
            check_int("accumulate_grad_batches", accumulation, minimum=1)
        check_int("devices", self.devices, minimum=1)
        ramp = self.batch_size_ramp
        if ramp is not None:
            if not isinstance(ramp, BatchSizeRamp):
                raise TypeError(f"`batch_size_ramp` must be a BatchSizeRamp or None, got {ramp!r}")
            if accumulation != 1:
                raise ValueError(
                    f"`accumulate_grad_batches`={accumulation!r} and `batch_size_ramp`={ramp!r}: the ramp sets the "
                    "accumulation; give one of them"
                )
        if self.units_per_batch is not None:
            check_int("units_per_batch", self.units_per_batch, minimum=0)
        for unit in ("samples_per_step", "tokens_per_step"):
            if getattr(self, unit) is not None:
                check_int(unit, getattr(self, unit), minimum=1)
        if self.epochs_limit is None and self.max_steps == -1:
            raise ValueError(
                f"the fit has no end: give `max_epochs` or `max_steps` (got max_epochs={self.max_epochs!r}, "
                f"max_steps={self.max_steps!r})"
            )

    @property
    def epochs_limit(self) -> int | None:
        """``max_epochs`` when it limits the fit."""
        return None if self.max_epochs is None or self.max_epochs == -1 else self.max_epochs

    def accumulation(self, epoch: int) -> int:
        """Batches per optimizer step in ``epoch``."""
        accumulation = self.accumulate_grad_batches
        if isinstance(accumulation, Mapping):
            return accumulation[max(start for start in accumulation if start <= epoch)]
        return accumulation

    @cached_property
    def ramp_plan(self) -> RampPlan | None:
        """How ``batch_size_ramp`` makes the fit step (``None`` without a ramp)."""
        ramp = self.batch_size_ramp
        if ramp is None:
            return None
        return ramp.plan(
            math.ceil(self.batches_per_epoch / self.devices),
            self.epochs_limit,
            self.max_steps,
            world_size=self.devices,
            units_per_batch=self.units_per_batch,
        )

    @property
    def max_accumulation(self) -> int:
        """The most batches any optimizer step accumulates."""
        if self.batch_size_ramp is not None:
            return max(self.batch_size_ramp.scheduling.values())
        accumulation = self.accumulate_grad_batches
        return max(accumulation.values()) if isinstance(accumulation, Mapping) else accumulation

    def epoch_steps(self, epoch: int) -> int:
        """Optimizer steps in ``epoch`` (Lightning steps on the last, partial accumulation too)."""
        return math.ceil(math.ceil(self.batches_per_epoch / self.devices) / self.accumulation(epoch))

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (the first epoch's, where an accumulation schedule changes it)."""
        return self.epoch_steps(0)

    def _steps_of_epochs(self) -> list[int]:
        """Optimizer steps in each epoch the fit starts, the last one cut short by ``max_steps``."""
        if self.ramp_plan is not None:
            return self.ramp_plan.steps_per_epoch
        epochs, max_steps = self.epochs_limit, self.max_steps
        counts: list[int] = []
        done = 0
        while (epochs is None or len(counts) < epochs) and (max_steps == -1 or done < max_steps):
            steps = self.epoch_steps(len(counts))
            if max_steps != -1:
                steps = min(steps, max_steps - done)
            counts.append(steps)
            done += steps
        return counts

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole fit (Lightning's ``estimated_stepping_batches``)."""
        epochs = self.epochs_limit
        if epochs is None:
            return self.max_steps
        if self.ramp_plan is not None:
            return self.ramp_plan.total_steps
        if not isinstance(self.accumulate_grad_batches, Mapping):
            by_epochs = self.steps_per_epoch * epochs
            return by_epochs if self.max_steps == -1 else min(by_epochs, self.max_steps)
        return sum(self._steps_of_epochs())

    @property
    def total_epochs(self) -> int:
        """Epochs the fit starts (the last one possibly cut short by ``max_steps``)."""
        if self.batch_size_ramp is None and not isinstance(self.accumulate_grad_batches, Mapping):
            return math.ceil(self.total_steps / self.steps_per_epoch)
        return len(self._steps_of_epochs())

    def epoch_of_step(self) -> np.ndarray:
        """The epoch each optimizer step of the fit belongs to."""
        if self.ramp_plan is not None:
            return self.ramp_plan.epochs()
        if not isinstance(self.accumulate_grad_batches, Mapping):
            return np.arange(self.total_steps) // self.steps_per_epoch
        counts = self._steps_of_epochs()
        return np.repeat(np.arange(len(counts)), counts)

    @classmethod
    def from_trainer(cls, trainer: Any, batches_per_epoch: int) -> FitPlan:
        """The plan of an unfitted ``Trainer`` whose training dataloader has ``batches_per_epoch`` batches.

        A ``GradientAccumulationScheduler`` among its callbacks gives the accumulation by epoch; a
        :class:`~lightning_schedulers.BatchSizeRamp`, step by step.
        """
        accumulation: int | Mapping[int, int] = trainer.accumulate_grad_batches
        for callback in getattr(trainer, "callbacks", []):
            scheduling = getattr(callback, "scheduling", None)
            if type(callback).__name__ == "GradientAccumulationScheduler" and isinstance(scheduling, Mapping):
                accumulation = dict(scheduling)
        return cls(
            max_epochs=trainer.max_epochs,
            max_steps=trainer.max_steps,
            batches_per_epoch=batches_per_epoch,
            accumulate_grad_batches=accumulation,
            devices=trainer.num_devices,
            batch_size_ramp=ramp_of(trainer),
        )


@dataclass
class Preview:
    """Per-step values of every scheduled target: ``values[label][s]`` is applied while step ``s`` trains.

    Labels are ``"{Callback}:{name}"``, with the name the fit logs the value under
    (``LearningRateMonitor``'s: ``lr-SGD``, ``lr-SGD/pg2-momentum``; see
    :meth:`~lightning_schedulers.SchedulerCallback.labels`).
    """

    plan: FitPlan
    values: dict[str, np.ndarray] = field(default_factory=dict)
    #: The plot panel of each label: one per callback and target (every param group of it together).
    panels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.plan, FitPlan):
            raise TypeError(f"`plan` must be a FitPlan, got {self.plan!r} ({type(self.plan).__name__})")
        if not isinstance(self.values, Mapping):
            raise TypeError(f"`values` must be a dict of label -> per-step values, got {self.values!r}")
        for label, column in self.values.items():
            if np.shape(column) != (self.plan.total_steps,):
                raise ValueError(
                    f"`values`[{label!r}] must hold one value per step ({self.plan.total_steps}), got {column!r}"
                )

    @property
    def steps(self) -> int:
        """Optimizer steps of the fit."""
        return self.plan.total_steps

    def table(self, points: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)) -> str:
        """A compact text table of the values at fractions of the fit (1.0 is the last step)."""
        steps = sorted({min(self.steps - 1, max(0, round(p * (self.steps - 1)))) for p in points})
        width = max([len(label) for label in self.values] + [6])
        header = f"{'step':<{width}} " + " ".join(f"{s:>11d}" for s in steps)
        lines = [header, "-" * len(header)]
        for label, column in self.values.items():
            lines.append(f"{label:<{width}} " + " ".join(f"{column[s]:>11.4g}" for s in steps))
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None) -> Any:
        """One panel per target, all values of the fit; saved as PNG when ``path`` is given. Returns the figure."""
        from lightning_schedulers._plotting import require_pyplot

        plt = require_pyplot()
        groups: dict[str, list[str]] = {}
        for label in self.values:
            groups.setdefault(self.panels.get(label, label), []).append(label)
        fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.2 * len(groups)), sharex=True, squeeze=False)
        x = np.arange(self.steps)
        for ax, (panel, labels) in zip(axes[:, 0], groups.items(), strict=True):
            for label in labels:
                ax.plot(x, self.values[label], label=label.split(":", 1)[1])
            ax.set_title(panel, fontsize=9)
            ax.legend(fontsize=7)
        axes[-1, 0].set_xlabel("optimizer step")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig


def _plan(config: Any, batches_per_epoch: int | None) -> FitPlan:
    if isinstance(config, FitPlan):
        return config
    if isinstance(config, Mapping):
        known = {f.name for f in fields(FitPlan)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown fit settings {unknown}; a FitPlan takes {sorted(known)}")
        return FitPlan(**dict(config))
    if hasattr(config, "max_epochs") and hasattr(config, "accumulate_grad_batches"):
        if batches_per_epoch is None:
            raise ValueError("previewing from a Trainer needs `batches_per_epoch` (the training dataloader's length)")
        return FitPlan.from_trainer(config, batches_per_epoch)
    raise TypeError(f"`trainer_or_config` must be a FitPlan, a dict of its fields or a Trainer, got {config!r}")


def preview(
    callbacks: Sequence[Any],
    trainer_or_config: Any,
    initial: float | Sequence[float] | None = None,
    batches_per_epoch: int | None = None,
    optimizers: Sequence[torch.optim.Optimizer] | None = None,
) -> Preview:
    """Every value ``callbacks`` would apply in the fit ``trainer_or_config`` describes, per optimizer step.

    Args:
        callbacks: callbacks of the fit; those that are not scheduler callbacks are ignored.
        trainer_or_config: a :class:`FitPlan`, a dict of its fields, or an unfitted ``Trainer``.
        initial: each param group's lr (or target value) from ``configure_optimizers``, for the
            schedules relative to it; a list gives one per group. With ``optimizers`` and no
            ``initial``, what their groups hold; else 1.0.
        batches_per_epoch: the training dataloader's length, with a ``Trainer``.
        optimizers: the fit's optimizers (what ``configure_optimizers`` returns): their groups,
            start values and classes, so that the labels are the names the fit logs.

    Returns:
        A :class:`Preview`.

    Examples:
        >>> import lightning_schedulers as ls
        >>> plan = {"max_epochs": 3, "batches_per_epoch": 4}
        >>> values = ls.preview([ls.StepLR(step_size=1)], plan, initial=0.1).values["StepLR:lr-optimizer0"]
        >>> values.round(6).tolist()
        [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001]
    """
    plan = _plan(trainer_or_config, batches_per_epoch)
    callbacks = check_sequence("callbacks", callbacks, allow_empty=True)
    result = Preview(plan)
    steps = plan.total_steps
    epoch_of_step = plan.epoch_of_step()
    ramp = plan.batch_size_ramp
    lr_factors = None
    if ramp is not None and ramp.lr_scaling is not None and plan.ramp_plan is not None:
        lr_factors = ramp.lr_factors(plan.ramp_plan)  # the ramp scales the lr its callbacks write
    for callback in callbacks:
        if not isinstance(callback, SchedulerCallback):
            continue
        if ramp is not None and callback.interval == "step" and callback.clock in ("samples", "tokens"):
            raise ValueError(
                f"{callback!r} counts {callback.clock}, and under {ramp!r} the {callback.clock} of a step change with "
                "its accumulation; preview it with simulate() over the readings of ramp.plan(...).consumed(...)"
            )
        if callback.interval == "step" and callback.clock == "batch" and plan.max_accumulation > 1:
            raise ValueError(
                f"{callback!r} counts batches (clock='batch'), and with accumulate_grad_batches="
                f"{plan.accumulate_grad_batches} its value changes within an optimizer step, the preview's unit; "
                "preview it with simulate(number of batches)"
            )
        if callback.interval == "step" and callback.clock in ("samples", "tokens"):
            per_step = getattr(plan, f"{callback.clock}_per_step")
            if per_step is None:
                raise ValueError(
                    f"{callback!r} counts {callback.clock} (clock={callback.clock!r}); give the plan's "
                    f"{callback.clock}_per_step (every rank's micro-batches of one optimizer step; on the command line "
                    f"--{callback.clock}-per-step)"
                )
            labels, columns, targets = callback._columns(
                steps, initial, length=steps * per_step, optimizers=optimizers, units_per_step=per_step
            )
        elif callback.interval == "step":
            labels, columns, targets = callback._columns(steps, initial, length=steps, optimizers=optimizers)
        else:
            epochs = plan.epochs_limit or plan.total_epochs
            labels, columns, targets = callback._columns(
                plan.total_epochs, initial, length=epochs, optimizers=optimizers
            )
            columns = [column[epoch_of_step] for column in columns]
        for label, column, target in zip(labels, columns, targets, strict=True):
            if lr_factors is not None and target.startswith("lr@"):
                column = column * lr_factors
            key = f"{type(callback).__name__}:{label}"
            while key in result.values:
                key += "'"
            result.values[key] = column
            result.panels[key] = f"{type(callback).__name__}: {target}"
    return result
