"""Preview: what a callback will apply, computed from the pure layer only (no Trainer, no fit).

``simulate(n)`` evaluates the callback's schedules over events ``0 .. n - 1`` with numpy, fractions
of training resolved against ``n``; ``labels()`` names the columns as a fit logs them; ``plot()``
draws them. The values are the ones a fit writes, by construction: the fit reads the same
schedules' blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lightning_schedulers._validation import check_float, check_int, check_sequence
from lightning_schedulers.callbacks.options import Interval
from lightning_schedulers.engine.bindings import Binding, with_factors
from lightning_schedulers.engine.run import named
from lightning_schedulers.targets import BoundParamGroups, ParamGroup, Target

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lightning_schedulers.schedules.base import Schedule

__all__ = ["PREVIEW_TOTAL", "Previewable"]

# simulate(n) resolves fractions of training against n, for the callback and everything it composes.
PREVIEW_TOTAL: ContextVar[int | None] = ContextVar("lightning_schedulers_preview_total", default=None)


class Previewable:
    """``simulate``, ``labels`` and ``plot`` for a callback (mixed into ``SchedulerCallback``)."""

    interval: Interval
    name: str | None

    if TYPE_CHECKING:  # provided by SchedulerCallback

        def _bindings(self) -> tuple[Binding, ...]: ...

        def _resolved(self, schedules: Sequence[Schedule]) -> list[Schedule]: ...

    def simulate(
        self,
        num_events: int,
        initial: float | Sequence[float] | None = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
        units_per_step: int | None = None,
    ) -> np.ndarray:
        """Values this callback would apply at events ``0 .. num_events - 1``.

        Args:
            num_events: number of steps (``interval="step"``) or epochs (``"epoch"``); with
                ``clock="samples"`` or ``"tokens"``, events are samples or tokens, or optimizer
                steps when ``units_per_step`` is given.
            initial: the value each target holds at the start (only used by relative targets);
                a list gives one column per param group. With ``optimizers`` and no ``initial``,
                the values their param groups hold; else 1.0.
            optimizers: the fit's optimizers (what ``configure_optimizers`` returns), for their
                param groups and start values, and for :meth:`labels` equal to the logged names.
            units_per_step: the samples or tokens each optimizer step consumes (every rank's
                micro-batches): the values of steps ``0 .. num_events - 1``, step ``n`` at
                ``n * units_per_step`` units; fractions resolve against ``num_events * units_per_step``.

        Returns:
            A float64 array of shape ``(num_events,)`` for one value, else ``(num_events, k)`` with
            one column per value, bindings in order and param groups within each binding.

        """
        n = check_int("num_events", num_events, minimum=0)
        per = None if units_per_step is None else check_int("units_per_step", units_per_step, minimum=1)
        length = max(n, 1) * (per or 1)
        _, columns, _ = self._columns(n, initial, length=length, optimizers=optimizers, units_per_step=per)
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
        units_per_step: int | None = None,
    ) -> tuple[list[str], list[np.ndarray], list[str]]:
        """Labels, values and targets (descriptions) of every applied value over ``num_events`` events.

        Fractions of training resolve against a fit ``length`` events long. With
        ``units_per_step``, event ``n`` is evaluated at ``n * units_per_step``.
        """
        init = _check_initial(1.0 if initial is None else initial)
        given = None if optimizers is None else _check_optimizers(optimizers)
        ts = np.arange(num_events, dtype=np.float64)
        if units_per_step is not None:
            ts *= units_per_step
        labels: list[str] = []
        columns: list[np.ndarray] = []
        targets: list[str] = []
        token = PREVIEW_TOTAL.set(length)  # fractions of training resolve against this length
        try:
            bindings = self._bindings()
            for binding in bindings:
                target = binding.target
                bound = target.bind(given) if given is not None and isinstance(target, ParamGroup) else None
                bases = bound.read() if bound is not None and initial is None else binding.preview_bases(init)
                schedules, scale = binding.resolve(bases)
                scale = with_factors(scale, getattr(bound, "factors", None))  # a group's lr_scale
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
            PREVIEW_TOTAL.reset(token)
        return labels, columns, targets

    def plot(
        self,
        num_events: int,
        initial: float | Sequence[float] | None = None,
        ax: Axes | None = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
    ) -> Axes:
        """Plot :meth:`simulate` on ``ax`` (a new figure if ``None``) and return the ``Axes``.

        Needs matplotlib (``pip install matplotlib``).
        """
        from lightning_schedulers._plotting import plot_columns

        n = check_int("num_events", num_events, minimum=0)
        labels, columns, _ = self._columns(n, initial, length=max(n, 1), optimizers=optimizers)
        return plot_columns(np.stack(columns, axis=1), labels, xlabel=self.interval, ax=ax)


def _preview_names(
    callback: Previewable, target: Target, bound: BoundParamGroups | None, slots: int, bindings: int
) -> list[str]:
    """The names a fit logs ``target``'s ``slots`` values under (see :meth:`SchedulerCallback.labels`)."""
    if callback.name is not None and bindings == 1:
        return named(callback.name, slots)
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


def _check_initial(initial: Any) -> float | list[float]:
    if isinstance(initial, (int, float)) and not isinstance(initial, bool):
        return check_float("initial", initial)
    items = check_sequence("initial", initial)
    return [check_float(f"initial[{i}]", v) for i, v in enumerate(items)]
