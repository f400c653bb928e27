"""pytorch-ignite's state schedulers as Lightning callbacks: a module attribute reached by ``param_name``.

ignite's state schedulers count from 1 (they run after an iteration completes): here the
attribute holds ``f(0) = initial_value`` from the start of the fit and ``f(t)`` while event ``t``
trains, so with ``interval="epoch"`` the value read at the end of epoch ``k`` is ignite's ``k``-th
value. ignite has no cyclical state schedulers; :class:`CosineAnnealingStateScheduler` and
:class:`LinearCyclicalStateScheduler` put its cyclical shapes on an attribute.

Examples:
    >>> from lightning_schedulers import ExpStateScheduler
    >>> cb = ExpStateScheduler(initial_value=1.0, gamma=0.9, param_name="kl_weight", interval="epoch")
    >>> cb.simulate(5).round(4).tolist()
    [1.0, 0.9, 0.81, 0.729, 0.6561]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from lightning_schedulers._validation import check_bool, check_float, check_sequence
from lightning_schedulers.callbacks.options import StateOptions, Unpack
from lightning_schedulers.families.common import growth_ceiling
from lightning_schedulers.families.ignite import _IgniteScheduler, _keep_anneal_arguments, _pairs
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Lambda
from lightning_schedulers.schedules.durations import Duration, check_duration
from lightning_schedulers.schedules.references import CyclicalAnneal
from lightning_schedulers.schedules.shapes import Exponential, MultiStep
from lightning_schedulers.schedules.shapes import PiecewiseLinear as PiecewiseLinearSchedule

__all__ = [
    "CosineAnnealingStateScheduler",
    "ExpStateScheduler",
    "LambdaStateScheduler",
    "LinearCyclicalStateScheduler",
    "MultiStepStateScheduler",
    "PiecewiseLinearStateScheduler",
    "StepStateScheduler",
]


class _StateScheduler(_IgniteScheduler):
    _state = True
    _history_after_events = True

    def __init__(
        self, param_name: str, save_history: bool = False, create_new: bool = False, **kwargs: Unpack[StateOptions]
    ) -> None:
        super().__init__(param_name, save_history=save_history, create_new=create_new, **kwargs)

    def __repr__(self) -> str:
        args = self._describe_arguments()
        return (
            f"{type(self).__name__}({args}, param_name={self.param_name!r}, create_new={self.create_new}, "
            f"interval={self.interval!r})"
        )


class ExpStateScheduler(_StateScheduler):
    """``initial_value * gamma ** t`` on a module attribute (ignite's ``ExpStateScheduler``).

    Examples:
        >>> ExpStateScheduler(1.0, 0.5, "kl_weight").simulate(4).tolist()
        [1.0, 0.5, 0.25, 0.125]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        self.initial_value = check_float("initial_value", initial_value)
        self.gamma = check_float("gamma", gamma, positive=True)
        self._schedule()  # validates the combination now

    def _schedule(self) -> Schedule:
        return Exponential(self.initial_value, self.gamma, end=growth_ceiling(self.gamma))


class StepStateScheduler(_StateScheduler):
    """``initial_value * gamma ** (t // step_size)`` on a module attribute (ignite's ``StepStateScheduler``).

    Examples:
        >>> StepStateScheduler(1.0, 0.5, 2, "kl_weight").simulate(5).tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        step_size: Duration,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        self.initial_value = check_float("initial_value", initial_value)
        self.gamma = check_float("gamma", gamma, positive=True)
        self.step_size = check_duration("step_size", step_size, minimum=1)
        self._schedule()

    def _schedule(self) -> Schedule:
        return Exponential(
            self.initial_value, self.gamma, steps=self.step_size, staircase=True, end=growth_ceiling(self.gamma)
        )


class MultiStepStateScheduler(_StateScheduler):
    """``initial_value * gamma ** (milestones <= t)`` on a module attribute (ignite's ``MultiStepStateScheduler``).

    Examples:
        >>> MultiStepStateScheduler(1.0, 0.5, [1, 3], "kl_weight").simulate(4).tolist()
        [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        milestones: Sequence[Duration],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        initial_value, gamma = check_float("initial_value", initial_value), check_float("gamma", gamma, positive=True)
        self._multistep = MultiStep(initial_value, gamma, tuple(check_sequence("milestones", milestones)))
        m = self._multistep
        self.initial_value, self.gamma, self.milestones = m.start, m.gamma, m.milestones

    def _schedule(self) -> Schedule:
        return self._multistep


class LambdaStateScheduler(_StateScheduler):
    """``lambda_obj(t)`` on a module attribute (ignite's ``LambdaStateScheduler``).

    Examples:
        >>> LambdaStateScheduler(lambda t: 1.0 / (t + 1), "temperature").simulate(3).tolist()
        [1.0, 0.5, 0.3333333333333333]
    """

    def __init__(
        self,
        lambda_obj: Callable[[int], float],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        if not callable(lambda_obj):
            raise TypeError(f"`lambda_obj` must be callable, got {lambda_obj!r}")
        self.lambda_obj = lambda_obj

    def _schedule(self) -> Schedule:
        return Lambda(self.lambda_obj)


class PiecewiseLinearStateScheduler(_StateScheduler):
    """Linear between ``(milestone, value)`` pairs on a module attribute (ignite's ``PiecewiseLinearStateScheduler``).

    Examples:
        >>> PiecewiseLinearStateScheduler([(0, 0.0), (2, 1.0)], "kl_weight").simulate(4).tolist()
        [0.0, 0.5, 1.0, 1.0]
    """

    def __init__(
        self,
        milestones_values: Sequence[tuple[Duration, float]],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        self.milestones_values = _pairs(milestones_values)

    def _schedule(self) -> Schedule:
        return PiecewiseLinearSchedule(self.milestones_values)


class _CyclicalState(_StateScheduler):
    _shape: ClassVar[str]

    def __init__(
        self,
        start_value: float,
        end_value: float,
        cycle_size: Duration,
        param_name: str,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: Duration = 0,
        save_history: bool = False,
        create_new: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        super().__init__(param_name, save_history, create_new, **kwargs)
        shape = "linear_monotonic" if self._shape == "linear" and getattr(self, "monotonic", False) else self._shape
        self._anneal = CyclicalAnneal(
            shape, start_value, end_value, cycle_size, cycle_mult, start_value_mult, end_value_mult, warmup_duration
        )
        _keep_anneal_arguments(self, self._anneal)

    def _schedule(self) -> Schedule:
        return self._anneal


class CosineAnnealingStateScheduler(_CyclicalState):
    """ignite's cosine cycles (:class:`CosineAnnealingScheduler`) on a module attribute; ignite has none.

    Examples:
        >>> CosineAnnealingStateScheduler(1.0, 0.0, 4, "temperature").simulate(3).round(3).tolist()
        [1.0, 0.854, 0.5]
    """

    _shape = "cosine"


class LinearCyclicalStateScheduler(_CyclicalState):
    """ignite's linear cycles (:class:`LinearCyclicalScheduler`) on a module attribute; ignite has none.

    Examples:
        >>> LinearCyclicalStateScheduler(0.0, 1.0, 4, "kl_weight", monotonic=True).simulate(5).tolist()
        [0.0, 0.25, 0.5, 0.75, 0.0]
    """

    _shape = "linear"

    def __init__(
        self,
        start_value: float,
        end_value: float,
        cycle_size: Duration,
        param_name: str,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: Duration = 0,
        save_history: bool = False,
        create_new: bool = False,
        *,
        monotonic: bool = False,
        **kwargs: Unpack[StateOptions],
    ) -> None:
        self.monotonic = check_bool("monotonic", monotonic)  # read by the base's __init__ (the shape)
        super().__init__(
            start_value,
            end_value,
            cycle_size,
            param_name,
            cycle_mult,
            start_value_mult,
            end_value_mult,
            warmup_duration,
            save_history,
            create_new,
            **kwargs,
        )
