"""poutyne's ``OptimizerPolicy`` as a Lightning callback, driven by :class:`~lightning_schedulers.schedules.Phase`.

Phases come from :func:`~lightning_schedulers.schedules.linspace`,
:func:`~lightning_schedulers.schedules.cosinespace` and the presets
:func:`~lightning_schedulers.presets.sgdr_phases` and :func:`~lightning_schedulers.presets.one_cycle_phases`.

Examples:
    >>> from lightning_schedulers import OptimizerPolicy, Phase, linspace
    >>> policy = OptimizerPolicy([Phase(lr=linspace(0.0, 1.0, 3)), Phase(lr=linspace(1.0, 0.5, 2))])
    >>> policy.simulate(6).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.5]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from lightning_schedulers._validation import check_int, check_param_group, check_sequence
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import Interval, PolicyOptions, Unpack
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Shift
from lightning_schedulers.schedules.phases import Phase, join_phases
from lightning_schedulers.targets import ParamGroup, check_optimizer

__all__ = ["OptimizerPolicy"]


class OptimizerPolicy(SchedulerCallback):
    """Run phases of named param-group values, one value per step (poutyne's ``OptimizerPolicy``).

    Each phase key is a param-group key; ``momentum`` writes ``betas[0]`` on Adam-type optimizers
    (poutyne writes an unused ``momentum`` key there). After the last phase the last values hold.
    ``initial_step`` skips that many values, as poutyne does when resuming by hand; a Lightning
    resume needs nothing, the position comes from ``trainer.global_step``.

    Args:
        phases: the phases, in order; every phase must drive the same keys.
        initial_step: values to skip at the start.
        **kwargs: ``interval`` (``"step"``), ``optimizer``, ``param_group_index`` (an index or a group's
            name), ``name``, ``save_history``, ``logging_enabled``.

    Examples:
        >>> from lightning_schedulers.presets import one_cycle_phases
        >>> policy = OptimizerPolicy(one_cycle_phases(100))
        >>> policy.simulate(100).shape
        (100, 2)
    """

    def __init__(
        self,
        phases: Sequence[Phase],
        *,
        initial_step: int = 0,
        interval: Interval = "step",
        optimizer: int | str = 0,
        param_group_index: int | str | None = None,
        **kwargs: Unpack[PolicyOptions],
    ) -> None:
        super().__init__(interval=interval, **kwargs)
        self.phases = list(check_sequence("phases", phases))
        self.initial_step = check_int("initial_step", initial_step, minimum=0)
        self.optimizer = check_optimizer(optimizer)
        self.param_group_index = check_param_group("param_group_index", param_group_index)
        joined = join_phases(self.phases)
        self._schedules: dict[str, Schedule] = {
            key: schedule if self.initial_step == 0 else Shift(schedule, self.initial_step)
            for key, schedule in joined.items()
        }

    @property
    def total_steps(self) -> int:
        """Steps the phases last, less ``initial_step``."""
        total: int = sum(self._dur(p.steps) for p in self.phases)
        return max(total - self.initial_step, 0)

    def _bindings(self) -> tuple[Binding, ...]:
        return tuple(
            Binding(ParamGroup(key, optimizer=self.optimizer, param_group_index=self.param_group_index), (schedule,))
            for key, schedule in self._schedules.items()
        )

    def __iter__(self) -> Iterator[dict[str, float]]:
        """The steps' ``{key: value}`` dicts from ``initial_step`` on, in order (as poutyne's policy).

        Iterating reads the phases only: it moves nothing (poutyne's iterator advances its
        ``current_step``; here the position during a fit comes from the trainer's clock).

        Examples:
            >>> from lightning_schedulers import Phase, linspace
            >>> list(OptimizerPolicy([Phase(lr=linspace(0.0, 1.0, 3))], initial_step=1))
            [{'lr': 0.5}, {'lr': 1.0}]
        """
        return iter(self.all_steps()[self.initial_step :])

    def all_steps(self) -> list[dict[str, float]]:
        """Every step's values, as poutyne's ``all_steps`` lists them (ignoring ``initial_step``)."""
        total = sum(self._dur(p.steps) for p in self.phases)
        joined = join_phases(self.phases)
        columns = {key: self._resolved([s])[0].values(np.arange(total)) for key, s in joined.items()}
        return [{key: float(columns[key][i]) for key in columns} for i in range(total)]

    def plot(
        self,
        num_events: int | str | None = None,
        initial: float | Sequence[float] | None = None,
        ax: Any = None,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
        *,
        param_name: str | None = None,
    ) -> Any:
        """Plot the values over the phases (or ``num_events`` steps); return the matplotlib ``Axes``.

        poutyne's form ``plot("momentum")`` (or ``plot(param_name="momentum")``) plots one key.
        """
        if isinstance(num_events, str):
            param_name, num_events = num_events, None
        n = self.total_steps if num_events is None else num_events
        if param_name is None:
            return super().plot(n, initial, ax, optimizers)
        from lightning_schedulers._plotting import plot_columns

        if param_name not in self._schedules:
            raise KeyError(
                f"`param_name`={param_name!r} is not driven by these phases; they drive {list(self._schedules)}"
            )
        data = self._schedules[param_name].values(np.arange(check_int("num_events", n, minimum=0)))
        return plot_columns(data, [param_name], xlabel=self.interval, ax=ax)

    def __repr__(self) -> str:
        return f"OptimizerPolicy(phases={self.phases!r}, initial_step={self.initial_step}, interval={self.interval!r})"
