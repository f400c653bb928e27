"""The ``torch.optim.lr_scheduler`` classes as Lightning callbacks, with torch's names and arguments.

Each class takes torch's arguments minus ``optimizer``, ``last_epoch`` and ``verbose``, plus the
common keyword arguments ``interval``, ``optimizer`` (an index into ``trainer.optimizers``),
``param_group_index`` (a group's index, or its ``"name"``), ``name``, ``save_history`` and
``logging_enabled``. The formula lives in the pure layer; a class only maps its arguments onto
schedules. A group holding ``lr_scale`` (timm's layer-wise decay) gets the lr times its scale.

Semantics, following torch:

* Schedules that scale the learning rate start from each param group's lr captured once at the
  start of the fit (torch's ``initial_lr``) and kept in the checkpoint.
* Values are closed form. Where torch updates recursively (``lr = lr * ratio`` each step) the two
  agree to about 1e-12 relative; where torch itself is closed form (``CyclicLR``, ``OneCycleLR``,
  ``CosineAnnealingWarmRestarts``, ``LambdaLR``) the operations are torch's and the values equal
  torch's bit for bit. ``MultiplicativeLR`` is a running product, multiplied in torch's order.
* ``CyclicLR`` and ``OneCycleLR`` cycle ``momentum`` (``betas[0]`` on the Adam family) inversely to
  the learning rate.

Examples:
    >>> import lightning_schedulers as ls
    >>> ls.StepLR(step_size=2, gamma=0.5).simulate(5, initial=0.1).tolist()
    [0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers._validation import check_bool, check_choice, check_float, check_int, check_sequence
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import (
    _float_or_list,
    _per_group,
    _TorchLRScheduler,
    _TotalFromTrainer,
    growth_ceiling,
)
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import CumulativeProduct, Join, Lambda, Scale
from lightning_schedulers.schedules.durations import (
    Duration,
    TrainingFraction,
    check_duration,
    check_duration_sequence,
)
from lightning_schedulers.schedules.references import CosineRestarts, Cyclic, OneCycle
from lightning_schedulers.schedules.shapes import Constant, Cosine, Exponential, Linear, MultiStep, Polynomial
from lightning_schedulers.targets import resolve_optimizer

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "SequentialLR",
    "SWALR",
    "StepLR",
]


class _LambdaScheduler(_TorchLRScheduler):
    """``lr_lambda``: one function of the event index, or one per param group."""

    def __init__(
        self, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]], **kwargs: Unpack[LROptions]
    ) -> None:
        super().__init__(**kwargs)
        self.lr_lambda = _check_lambdas("lr_lambda", lr_lambda)

    def _slots(self) -> int | None:
        return len(self.lr_lambda) if isinstance(self.lr_lambda, list) else None

    def _functions(self, count: int) -> list[Callable[[int], float]]:
        return _per_group("lr_lambda", self.lr_lambda, count, lambda _, f: f)

    def _lambda_list(self) -> list[Callable[[int], float]]:
        return self.lr_lambda if isinstance(self.lr_lambda, list) else [self.lr_lambda]

    def _extra_state(self) -> dict[str, Any]:
        # As torch's LambdaLR/MultiplicativeLR: the attributes of a callable object are saved
        # (functions and lambdas have none worth saving), so a stateful lr_lambda resumes.
        return {"lr_lambdas": [None if _is_plain_function(fn) else dict(vars(fn)) for fn in self._lambda_list()]}

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        saved = extra.get("lr_lambdas")
        if saved is None:
            return None
        if not isinstance(saved, list) or len(saved) != len(self._lambda_list()):
            return f"extra['lr_lambdas'] is {saved!r} for {len(self._lambda_list())} lr_lambda(s)"
        if not all(entry is None or isinstance(entry, dict) for entry in saved):
            return f"extra['lr_lambdas'] is {saved!r}"
        return None

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        saved = (restored or {}).get("lr_lambdas")
        if isinstance(saved, list):
            for fn, attributes in zip(self._lambda_list(), saved, strict=True):
                if attributes is not None and not _is_plain_function(fn):
                    vars(fn).update(attributes)


class LambdaLR(_LambdaScheduler):
    """Each group's initial lr times ``lr_lambda(t)`` (torch's ``LambdaLR``).

    Args:
        lr_lambda: a function of the event index, or a list with one function per param group.
            Use module-level functions (not lambdas) where the callback must be pickled.
        **kwargs: the common keyword arguments (``interval="epoch"`` by default).

    Examples:
        >>> LambdaLR(lambda epoch: 0.9**epoch).simulate(3, initial=1.0).round(3).tolist()
        [1.0, 0.9, 0.81]
    """

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        fns = self._functions(len(bases))
        # torch computes base_lr * lmbda(epoch): Scale does exactly that product.
        return [Scale(Lambda(fn), base) for fn, base in zip(fns, bases, strict=True)]


def _is_plain_function(fn: Any) -> bool:
    """A function or lambda (torch saves nothing for these), as opposed to a callable object with state."""
    return isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__")


def _check_lambdas(name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        items = check_sequence(name, value)
        for i, fn in enumerate(items):
            if not callable(fn):
                raise TypeError(f"`{name}[{i}]` must be callable, got {fn!r}")
        return list(items)
    if not callable(value):
        raise TypeError(f"`{name}` must be a callable or a list of callables, got {value!r}")
    return value


class MultiplicativeLR(_LambdaScheduler):
    """Each group's lr multiplied by ``lr_lambda(t)`` at every event ``t >= 1`` (torch's ``MultiplicativeLR``).

    The value at ``t`` is ``initial_lr * lr_lambda(1) * ... * lr_lambda(t)``, multiplied in torch's
    order (so equal to torch bit for bit). This is the one scheduler without a closed form:
    jumping to event ``t`` (on resume) evaluates ``lr_lambda`` ``t`` times, once.

    Args:
        lr_lambda: a function of the event index, or one per param group.
        **kwargs: the common keyword arguments (``interval="epoch"`` by default).

    Examples:
        >>> MultiplicativeLR(lambda epoch: 0.5).simulate(3, initial=1.0).tolist()
        [1.0, 0.5, 0.25]
    """

    _chainable = True

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        return [CumulativeProduct(fn, start=base) for fn, base in zip(self._functions(len(bases)), bases, strict=True)]

    def _factors(self, count: int) -> list[Schedule]:
        return [CumulativeProduct(fn) for fn in self._functions(count)]

    def _sequential_piece(self, bases: list[float], previous: list[float]) -> list[Schedule]:
        # torch's SequentialLR switches to it with lr = previous_lr * lr_lambda(0), then keeps multiplying.
        fns = self._functions(len(bases))
        return [CumulativeProduct(fn, start=prev * float(fn(0))) for fn, prev in zip(fns, previous, strict=True)]


class StepLR(_TorchLRScheduler):
    """Decay each group's initial lr by ``gamma`` every ``step_size`` events (torch's ``StepLR``).

    Examples:
        >>> StepLR(step_size=2, gamma=0.1).simulate(5, initial=1.0).round(12).tolist()
        [1.0, 1.0, 0.1, 0.1, 0.01]
    """

    _chainable = True

    def __init__(self, step_size: Duration, gamma: float = 0.1, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.step_size = check_duration("step_size", step_size, minimum=1)
        self.gamma = check_float("gamma", gamma, positive=True)

    def _factors(self, count: int) -> list[Schedule]:
        end = growth_ceiling(self.gamma)
        return [Exponential(1.0, self.gamma, steps=self.step_size, staircase=True, end=end)] * count


class MultiStepLR(_TorchLRScheduler):
    """Decay each group's initial lr by ``gamma`` at each milestone (torch's ``MultiStepLR``).

    A milestone listed twice decays twice, as in torch.

    Examples:
        >>> MultiStepLR(milestones=[1, 3], gamma=0.5).simulate(4, initial=1.0).tolist()
        [1.0, 0.5, 0.5, 0.25]
    """

    _chainable = True

    def __init__(self, milestones: Sequence[Duration], gamma: float = 0.1, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        given = check_duration_sequence("milestones", milestones, strictly_increasing=False)
        # torch sorts its milestones; fractions are ordered when the fit resolves them.
        has_fraction = any(isinstance(m, TrainingFraction) for m in given)
        self.milestones = given if has_fraction else tuple(sorted(given))
        self.gamma = check_float("gamma", gamma, positive=True)
        MultiStep(1.0, self.gamma, self.milestones)  # validates the milestones now

    def _factors(self, count: int) -> list[Schedule]:
        return [MultiStep(1.0, self.gamma, self.milestones)] * count


class ConstantLR(_TorchLRScheduler):
    """Each group's initial lr times ``factor`` until ``total_iters``, then the initial lr (torch's ``ConstantLR``).

    Examples:
        >>> ConstantLR(factor=0.5, total_iters=2).simulate(4, initial=1.0).tolist()
        [0.5, 0.5, 1.0, 1.0]
    """

    _chainable = True

    def __init__(self, factor: float = 1.0 / 3, total_iters: Duration = 5, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.factor = check_float("factor", factor)
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"`factor` must be in [0, 1], got {factor!r}")
        self.total_iters = check_duration("total_iters", total_iters, minimum=1)

    def _factors(self, count: int) -> list[Schedule]:
        return [Join((Constant(self.factor), Constant(1.0)), (self.total_iters,))] * count


class LinearLR(_TorchLRScheduler):
    """Scale each group's initial lr linearly from ``start_factor`` to ``end_factor`` (torch's ``LinearLR``).

    Examples:
        >>> LinearLR(start_factor=0.5, total_iters=2).simulate(4, initial=1.0).tolist()
        [0.5, 0.75, 1.0, 1.0]
    """

    _chainable = True

    def __init__(
        self,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: Duration = 5,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.start_factor = check_float("start_factor", start_factor)
        if not 0.0 < self.start_factor <= 1.0:
            raise ValueError(f"`start_factor` must be in (0, 1], got {start_factor!r}")
        self.end_factor = check_float("end_factor", end_factor)
        if not 0.0 <= self.end_factor <= 1.0:
            raise ValueError(f"`end_factor` must be in [0, 1], got {end_factor!r}")
        self.total_iters = check_duration("total_iters", total_iters, minimum=1)

    def _factors(self, count: int) -> list[Schedule]:
        return [Linear(self.start_factor, self.end_factor, self.total_iters)] * count


class ExponentialLR(_TorchLRScheduler):
    """Each group's initial lr times ``gamma ** t`` (torch's ``ExponentialLR``).

    Examples:
        >>> ExponentialLR(gamma=0.5).simulate(3, initial=1.0).tolist()
        [1.0, 0.5, 0.25]
    """

    _chainable = True

    def __init__(self, gamma: float, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.gamma = check_float("gamma", gamma, positive=True)

    def _factors(self, count: int) -> list[Schedule]:
        return [Exponential(1.0, self.gamma, end=growth_ceiling(self.gamma))] * count


class PolynomialLR(_TorchLRScheduler):
    """Each group's initial lr times ``(1 - t / total_iters) ** power``, then 0 (torch's ``PolynomialLR``).

    Examples:
        >>> PolynomialLR(total_iters=4, power=1.0).simulate(5, initial=1.0).tolist()
        [1.0, 0.75, 0.5, 0.25, 0.0]
    """

    _chainable = True

    def __init__(self, total_iters: Duration = 5, power: float = 1.0, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.total_iters = check_duration("total_iters", total_iters, minimum=1)
        self.power = check_float("power", power, positive=True)

    def _factors(self, count: int) -> list[Schedule]:
        return [Polynomial(1.0, 0.0, self.total_iters, self.power)] * count


class CosineAnnealingLR(_TorchLRScheduler):
    """Cosine from each group's initial lr to ``eta_min`` over ``T_max`` events (torch's ``CosineAnnealingLR``).

    Past ``T_max`` the cosine continues (period ``2 * T_max``), as torch's does. The value is the
    closed form, computed so it keeps full precision near ``eta_min``; torch's recursive update
    drifts from it by up to ~1e-11 relative over 100,000 events.

    Examples:
        >>> CosineAnnealingLR(T_max=2, eta_min=0.0).simulate(5, initial=1.0).round(12).tolist()
        [1.0, 0.5, 0.0, 0.5, 1.0]
    """

    def __init__(self, T_max: Duration, eta_min: float = 0.0, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.T_max = check_duration("T_max", T_max, minimum=1)
        self.eta_min = check_float("eta_min", eta_min)

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        return [Cosine(base, self.eta_min, self.T_max, periodic=True) for base in bases]


class CosineAnnealingWarmRestarts(_TorchLRScheduler):
    """Cosine from each group's initial lr to ``eta_min``, restarting; cycle ``i`` lasts ``T_0 * T_mult**i``.

    Torch's ``CosineAnnealingWarmRestarts`` stepped once per event; values equal torch's bit for bit.

    Examples:
        >>> CosineAnnealingWarmRestarts(T_0=2).simulate(4, initial=1.0).round(12).tolist()
        [1.0, 0.5, 1.0, 0.5]
    """

    def __init__(self, T_0: Duration, T_mult: int = 1, eta_min: float = 0.0, **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.T_0 = check_duration("T_0", T_0, minimum=1)
        self.T_mult = check_int("T_mult", T_mult, minimum=1)
        self.eta_min = check_float("eta_min", eta_min)

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        return [CosineRestarts(base, self.eta_min, self.T_0, self.T_mult) for base in bases]


def _check_optimizer_momentum(cls: str, callback: _TorchLRScheduler, trainer: pl.Trainer) -> None:
    optimizers = trainer.optimizers
    opt = optimizers[resolve_optimizer(callback.optimizer, optimizers)]
    if not any("momentum" in g or "betas" in g for g in opt.param_groups):
        raise ValueError(
            f"{cls}(cycle_momentum=True) needs an optimizer with `momentum` or `betas`, but "
            f"{type(opt).__name__} has neither; pass cycle_momentum=False"
        )


class CyclicLR(_TorchLRScheduler):
    """Cycle the lr between ``base_lr`` and ``max_lr`` (torch's ``CyclicLR``), momentum inversely.

    Values equal torch's bit for bit. The built-in ``mode``s impose their ``scale_mode``
    (``"cycle"`` for the triangular modes, ``"iterations"`` for ``"exp_range"``); a custom
    ``scale_fn`` uses the ``scale_mode`` given. ``base_lr``, ``max_lr``, ``base_momentum`` and
    ``max_momentum`` take a float or one value per param group.

    Examples:
        >>> cb = CyclicLR(base_lr=0.1, max_lr=1.0, step_size_up=2, cycle_momentum=False)
        >>> cb.simulate(5).round(6).tolist()
        [0.1, 0.55, 1.0, 0.55, 0.1]
    """

    _default_interval = "step"

    def __init__(
        self,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: Duration = 2000,
        step_size_down: Duration | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.base_lr = _float_or_list("base_lr", base_lr)
        self.max_lr = _float_or_list("max_lr", max_lr)
        self.step_size_up = check_duration("step_size_up", step_size_up, minimum=1)
        self.step_size_down = (
            self.step_size_up if step_size_down is None else check_duration("step_size_down", step_size_down, minimum=1)
        )
        if scale_fn is None:
            check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
        elif not callable(scale_fn):
            raise TypeError(f"`scale_fn` must be callable or None, got {scale_fn!r}")
        self.mode = mode
        self.gamma = check_float("gamma", gamma, positive=True)
        self.scale_fn = scale_fn
        self.scale_mode = check_choice("scale_mode", scale_mode, ("cycle", "iterations"))
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.base_momentum = _float_or_list("base_momentum", base_momentum)
        self.max_momentum = _float_or_list("max_momentum", max_momentum)

    def _slots(self) -> int | None:
        lists = [v for v in (self.base_lr, self.max_lr, self.base_momentum, self.max_momentum) if isinstance(v, tuple)]
        return len(lists[0]) if lists else None

    def _cycles(self, low: Any, high: Any, names: tuple[str, str], count: int) -> list[Schedule]:
        lows = _per_group(names[0], low, count, check_float)
        highs = _per_group(names[1], high, count, check_float)
        return [
            Cyclic(
                lo,
                hi,
                self.step_size_up,
                self.step_size_down,
                mode=self.mode,
                gamma=self.gamma,
                scale_fn=self.scale_fn,
                scale_mode=self.scale_mode,
            )
            for lo, hi in zip(lows, highs, strict=True)
        ]

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        return self._cycles(self.base_lr, self.max_lr, ("base_lr", "max_lr"), len(bases))

    def _momentum_schedules(self, bases: list[float]) -> list[Schedule]:
        # Inverse cycle: from max_momentum down towards base_momentum while the lr rises.
        return self._cycles(self.max_momentum, self.base_momentum, ("max_momentum", "base_momentum"), len(bases))

    def _extra_bindings(self) -> tuple[Binding, ...]:
        if not self.cycle_momentum:
            return ()
        return (Binding(self._target("momentum"), builder=self._momentum_schedules, slots=self._slots()),)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        if self.cycle_momentum:
            _check_optimizer_momentum("CyclicLR", self, trainer)


#: Lightning's warning for a ``OneCycleLR`` stepped once an epoch (``core/optimizer.py``: "A `OneCycleLR`
#: scheduler is using 'interval': 'epoch'. Are you sure you didn't mean 'interval': 'step'?"), for this package.
ONE_CYCLE_EPOCH_WARNING = (
    "{who} interval='epoch': the 1cycle policy then moves once an epoch (its total_steps count epochs). Are you "
    "sure you didn't mean interval='step'? (Lightning warns likewise for 'interval': 'epoch' in "
    "configure_optimizers)"
)


class OneCycleLR(_TotalFromTrainer):
    """The 1cycle policy (torch's ``OneCycleLR``): warm up to ``max_lr``, anneal far below, momentum inversely.

    Values equal torch's bit for bit. The total length is ``total_steps``, else ``epochs *
    steps_per_epoch``, else taken at the start of the fit from ``trainer.estimated_stepping_batches``
    (``interval="step"``, accumulation- and DDP-aware) or ``trainer.max_epochs`` (``"epoch"``),
    and kept in the checkpoint. Past the end the last value holds and a warning is emitted once
    (torch raises). ``simulate(n)`` without a known total previews a fit of ``n`` events.

    Examples:
        >>> cb = OneCycleLR(max_lr=1.0, total_steps=10, anneal_strategy="linear", cycle_momentum=False)
        >>> cb.simulate(4).round(4).tolist()
        [0.04, 0.52, 1.0, 0.8571]
    """

    _default_interval = "step"

    def __init__(
        self,
        max_lr: float | Sequence[float],
        total_steps: Duration | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.max_lr = _float_or_list("max_lr", max_lr, positive=True)
        self.total_steps = None if total_steps is None else check_duration("total_steps", total_steps, minimum=1)
        self.epochs = None if epochs is None else check_int("epochs", epochs, minimum=1)
        self.steps_per_epoch = (
            None if steps_per_epoch is None else check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        )
        if self.total_steps is None and (self.epochs is None) != (self.steps_per_epoch is None):
            raise ValueError(
                f"give `epochs` and `steps_per_epoch` together (got epochs={epochs!r}, "
                f"steps_per_epoch={steps_per_epoch!r}), or `total_steps`, or neither to use the trainer's total"
            )
        self.pct_start = check_float("pct_start", pct_start)
        if not 0.0 < self.pct_start < 1.0:
            raise ValueError(f"`pct_start` must be in (0, 1), got {pct_start!r}")
        self.anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.base_momentum = _float_or_list("base_momentum", base_momentum)
        self.max_momentum = _float_or_list("max_momentum", max_momentum)
        self.div_factor = check_float("div_factor", div_factor, positive=True)
        self.final_div_factor = check_float("final_div_factor", final_div_factor, positive=True)
        self.three_phase = check_bool("three_phase", three_phase)
        if self.interval == "epoch":  # once, at construction (as Lightning does when configuring optimizers)
            rank_zero_warn(ONE_CYCLE_EPOCH_WARNING.format(who="OneCycleLR is used with"), category=RuntimeWarning)
        if self.total_steps is not None:
            self._set_total(self.total_steps)
        elif self.epochs is not None and self.steps_per_epoch is not None:
            self._set_total(self.epochs * self.steps_per_epoch)

    def _slots(self) -> int | None:
        lists = [v for v in (self.max_lr, self.base_momentum, self.max_momentum) if isinstance(v, tuple)]
        return len(lists[0]) if lists else None

    def _curves(self, start: float, peak: float, end: float, total: int) -> OneCycle:
        return OneCycle(start, peak, end, total, self.pct_start, self.anneal_strategy, self.three_phase)

    def _check_total(self, total: int) -> None:
        self._curves(1.0, 1.0, 1.0, total)  # a phase of zero length is an error

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        total = self._resolved_total()
        schedules: list[Schedule] = []
        for peak in _per_group("max_lr", self.max_lr, len(bases), check_float):
            initial = peak / self.div_factor  # torch: initial_lr, then min_lr = initial_lr / final_div_factor
            schedules.append(self._curves(initial, peak, initial / self.final_div_factor, total))
        return schedules

    def _momentum_schedules(self, bases: list[float]) -> list[Schedule]:
        total = self._resolved_total()
        highs = _per_group("max_momentum", self.max_momentum, len(bases), check_float)
        lows = _per_group("base_momentum", self.base_momentum, len(bases), check_float)
        return [self._curves(hi, lo, hi, total) for hi, lo in zip(highs, lows, strict=True)]

    def _extra_bindings(self) -> tuple[Binding, ...]:
        if not self.cycle_momentum:
            return ()
        return (Binding(self._target("momentum"), builder=self._momentum_schedules, slots=self._slots()),)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        if self.cycle_momentum:
            _check_optimizer_momentum("OneCycleLR", self, trainer)
        super()._resolve(trainer, restored)


class SWALR(_TorchLRScheduler):
    """Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` (torch's ``swa_utils.SWALR``), then hold it.

    The lr at event ``t`` is ``swa_lr * a + lr0 * (1 - a)``, with ``lr0`` each group's initial lr
    and ``a`` the anneal of ``min(1, t / anneal_epochs)``: ``(1 - cos(pi x)) / 2`` for ``"cos"``,
    ``x`` for ``"linear"`` (with ``anneal_epochs=0``, ``swa_lr`` at once). torch computes the same
    recursively from the current lr; the two agree to the parity bound. ``swa_lr`` takes a float
    or one value per param group. For weight averaging with Lightning's
    ``StochasticWeightAveraging``, which brings its own SWALR, see the documentation's families page (schedulers of this
    package hand the lr over to it).

    Examples:
        >>> SWALR(swa_lr=0.05, anneal_epochs=2, anneal_strategy="linear").simulate(4, initial=0.1).round(6).tolist()
        [0.1, 0.075, 0.05, 0.05]
    """

    def __init__(
        self,
        swa_lr: float | Sequence[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.swa_lr = _float_or_list("swa_lr", swa_lr, non_negative=True)
        self.anneal_epochs = check_int("anneal_epochs", anneal_epochs, minimum=0)
        self.anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))

    def _slots(self) -> int | None:
        return len(self.swa_lr) if isinstance(self.swa_lr, tuple) else None

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        targets = _per_group("swa_lr", self.swa_lr, len(bases), check_float)
        if self.anneal_epochs == 0:
            return [Constant(swa) for swa in targets]
        shape = Cosine if self.anneal_strategy == "cos" else Linear
        return [shape(base, swa, self.anneal_epochs) for base, swa in zip(bases, targets, strict=True)]


# The containers live in their own module (this one would pass 600 lines); their names stay here too.
from lightning_schedulers.families.torch_composite import ChainedScheduler, SequentialLR  # noqa: E402
