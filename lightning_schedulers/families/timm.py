"""timm's schedulers (``timm.scheduler``) as Lightning callbacks, with timm's names and arguments.

Each class takes its timm namesake's arguments minus ``optimizer`` and ``initialize``, plus the
common keyword arguments (``optimizer`` an index into ``trainer.optimizers``, ...). Semantics,
following timm and its training script:

* ``t_in_epochs=True`` (timm's default) is ``interval="epoch"``: ``t`` counts epochs; ``False``
  is ``interval="step"``: ``t`` counts optimizer updates (timm's ``step_update(num_updates)``).
  Giving ``interval`` as well is allowed only when it agrees.
* Event 0 trains with what timm's constructor wrote (``warmup_lr_init`` with a warmup, else each
  group's lr); event ``t >= 1`` with ``_get_lr(t)`` and the noise of ``t``, as ``step(t)`` or
  ``step_update(t)`` writes it in timm's ``train.py`` before epoch (update) ``t``.
* ``lr_min`` and ``warmup_lr_init`` are absolute (the same for every param group), as in timm;
  the cycles scale each group's initial lr. A group's ``lr_scale`` (timm's layer-wise decay)
  multiplies the lr written, as timm's ``update_groups`` does.
* Noise (``noise_range_t``, ``noise_pct``, ``noise_std``, ``noise_seed``, ``noise_type``) is
  timm's: at event ``t`` a ``torch.Generator`` seeded with ``noise_seed + t`` draws it, so the
  value at ``t`` is a pure function of ``t``: the same on every rank, after a resume, and in
  ``simulate``. It is :class:`TimmNoise`, the one schedule of this package that needs torch,
  which is why it lives with this family and not in the torch-free :mod:`lightning_schedulers.schedules`.
  ``noise_type`` is an attribute of timm's base class that these timm classes do not take as an
  argument (a timm user sets ``scheduler.noise_type = "uniform"``); here it is an argument.
* :class:`PlateauLRScheduler` (which timm deprecates) takes ``monitor`` first and decides at the
  end of every epoch, as Lightning steps it with ``"interval": "epoch"``: its warmup (whose
  epochs' metrics it ignores), then torch's plateau rule, then the noise on top of the reduced lr,
  as timm's ``step(epoch, metric)``. It has no ``t_in_epochs`` (timm's has none: epochs only).

Examples:
    >>> from lightning_schedulers.families.timm import CosineLRScheduler
    >>> cb = CosineLRScheduler(t_initial=4, warmup_t=2, warmup_lr_init=0.01, warmup_prefix=True)
    >>> cb.simulate(7, initial=0.1).round(4).tolist()
    [0.01, 0.055, 0.1, 0.0854, 0.05, 0.0146, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning_schedulers._validation import check_bool, check_int, check_int_sequence
from lightning_schedulers.callbacks.options import Interval, LROptions, Unpack
from lightning_schedulers.families.common import _TorchLRScheduler
from lightning_schedulers.families.timm_noise import TimmNoise, check_range, noise_of
from lightning_schedulers.families.timm_plateau import PlateauLRScheduler
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Product
from lightning_schedulers.schedules.timm import TimmCycles, TimmStep, cycle_length

__all__ = [
    "CosineLRScheduler",
    "MultiStepLRScheduler",
    "PlateauLRScheduler",
    "PolyLRScheduler",
    "StepLRScheduler",
    "TanhLRScheduler",
    "TimmNoise",
]


class _TimmScheduler(_TorchLRScheduler):
    """timm's ``t_in_epochs`` and noise arguments, and one absolute schedule per param group.

    The subclasses' constructors call :meth:`_init_timm` (an ``__init__`` here would add its
    parameters to every subclass's signature).
    """

    def _init_timm(
        self,
        t_in_epochs: bool,
        noise_range_t: int | Sequence[int] | None,
        noise_pct: float,
        noise_std: float,
        noise_seed: int,
        noise_type: str,
        kwargs: dict[str, Any],
    ) -> None:
        check_bool("t_in_epochs", t_in_epochs)
        mapped: Interval = "epoch" if t_in_epochs else "step"
        interval = kwargs.pop("interval", None)
        if interval is not None and interval != mapped:
            raise ValueError(
                f"`interval`={interval!r} contradicts `t_in_epochs`={t_in_epochs!r} (timm's t_in_epochs=True counts "
                "epochs, interval='epoch'; False counts updates, interval='step'); give one of them"
            )
        _TorchLRScheduler.__init__(self, interval=mapped, **kwargs)
        self.t_in_epochs = t_in_epochs
        self.noise_range_t = check_range(noise_range_t)
        self.noise_pct, self.noise_std = noise_pct, noise_std
        self.noise_seed, self.noise_type = noise_seed, noise_type
        self._noise = noise_of(self.noise_range_t, noise_pct, noise_std, noise_type, noise_seed)

    def _schedule(self, base: float) -> Schedule:
        raise NotImplementedError

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        schedules = [self._schedule(base) for base in bases]
        if self._noise is None:
            return schedules
        return [Product((s, self._noise)) for s in schedules]


class _TimmCyclic(_TimmScheduler):
    """The cyclic classes: ``get_cycle_length`` and the shared cycle arguments."""

    _kind = "cosine"
    # The cycle arguments, kept by _keep_cycle_arguments (lb, ub: Tanh; power: Poly; k_decay: Cosine, Poly).
    t_initial: int
    lr_min: float
    cycle_mul: float
    cycle_decay: float
    cycle_limit: int
    warmup_t: int
    warmup_lr_init: float
    warmup_prefix: bool
    k_decay: float
    lb: float
    ub: float
    power: float

    def _cycles(self, base: float) -> TimmCycles:
        """The pure schedule of a group whose lr starts at ``base``: this class's kind and cycle arguments."""
        return TimmCycles(self._kind, base, **{name: getattr(self, name) for name in self._cycle_arguments})

    def _keep_cycle_arguments(self, **arguments: Any) -> None:
        """Keep the cycle arguments as the pure schedule normalises them; building it once names a bad one."""
        self._cycle_arguments = tuple(arguments)
        for name, value in arguments.items():
            setattr(self, name, value)
        probe = self._cycles(1.0)
        for name in arguments:
            setattr(self, name, getattr(probe, name))

    def _schedule(self, base: float) -> Schedule:
        return self._cycles(base)

    def get_cycle_length(self, cycles: int = 0) -> int:
        """The events of ``cycles`` cycles (``cycle_limit`` when 0), with a prefix warmup: timm's ``get_cycle_length``.

        Examples:
            >>> CosineLRScheduler(t_initial=10, cycle_mul=2.0, cycle_limit=3).get_cycle_length()
            70
        """
        count = check_int("cycles", cycles, minimum=0)
        probe = self._cycles(1.0)
        return cycle_length(
            probe.t_initial, probe.cycle_mul, probe.cycle_limit, probe.warmup_t, probe.warmup_prefix, count
        )


class CosineLRScheduler(_TimmCyclic):
    """timm's ``CosineLRScheduler``: cosine cycles with warmup, ``cycle_mul``, ``cycle_decay``, limit, k-decay, noise.

    Args:
        t_initial: the first cycle's length, in epochs (or updates with ``t_in_epochs=False``).
        lr_min: the floor (absolute, the same for every param group).
        cycle_mul: each cycle is ``cycle_mul`` times longer than the previous one (>= 1).
        cycle_decay: each cycle peaks at ``cycle_decay`` times the previous peak.
        cycle_limit: cycles before the lr stays at ``lr_min``.
        warmup_t: warmup length; the lr rises linearly from ``warmup_lr_init`` to each group's lr.
        warmup_lr_init: the warmup's first lr (absolute).
        warmup_prefix: the cycles start after the warmup (timm's default ``False``: they count
            from event 0, under the warmup).
        t_in_epochs: ``True`` counts epochs (``interval="epoch"``), ``False`` updates (``"step"``).
        noise_range_t: the events with noise: ``t >= noise_range_t``, or ``start <= t < stop``.
        noise_pct: the noise's bound, as a fraction of the lr.
        noise_std: the normal noise's standard deviation.
        noise_seed: the seed; event ``t`` draws from ``noise_seed + t``.
        k_decay: k-decay exponent (1 is the plain cosine).
        noise_type: ``"normal"`` or ``"uniform"`` (timm's base-class attribute).
        **kwargs: the common keyword arguments (``optimizer``, ``param_group_index``, ``name``, ...).

    Examples:
        >>> cb = CosineLRScheduler(t_initial=2, cycle_limit=2, cycle_decay=0.5, lr_min=0.01)
        >>> cb.simulate(6, initial=1.0).round(4).tolist()
        [1.0, 0.505, 0.5, 0.255, 0.01, 0.01]
    """

    def __init__(
        self,
        t_initial: int,
        lr_min: float = 0.0,
        cycle_mul: float = 1.0,
        cycle_decay: float = 1.0,
        cycle_limit: int = 1,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = False,
        t_in_epochs: bool = True,
        noise_range_t: int | Sequence[int] | None = None,
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int = 42,
        k_decay: float = 1.0,
        noise_type: str = "normal",
        **kwargs: Unpack[LROptions],
    ) -> None:
        self._init_timm(t_in_epochs, noise_range_t, noise_pct, noise_std, noise_seed, noise_type, dict(kwargs))
        self._keep_cycle_arguments(
            t_initial=t_initial,
            lr_min=lr_min,
            cycle_mul=cycle_mul,
            cycle_decay=cycle_decay,
            cycle_limit=cycle_limit,
            warmup_t=warmup_t,
            warmup_lr_init=warmup_lr_init,
            warmup_prefix=warmup_prefix,
            k_decay=k_decay,
        )


class TanhLRScheduler(_TimmCyclic):
    """timm's ``TanhLRScheduler``: ``lr_min + (peak - lr_min) * (1 - tanh(lb (1 - x) + ub x)) / 2`` over each cycle.

    The arguments are :class:`CosineLRScheduler`'s (without ``k_decay``) and ``lb``, ``ub``, the
    tanh's bounds. Without ``warmup_prefix`` the warmup rises towards the curve's value at
    ``warmup_t``, as in timm.

    Examples:
        >>> TanhLRScheduler(t_initial=4).simulate(5, initial=1.0).round(4).tolist()
        [1.0, 0.9999, 0.982, 0.2689, 0.0]
    """

    _kind = "tanh"

    def __init__(
        self,
        t_initial: int,
        lb: float = -7.0,
        ub: float = 3.0,
        lr_min: float = 0.0,
        cycle_mul: float = 1.0,
        cycle_decay: float = 1.0,
        cycle_limit: int = 1,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = False,
        t_in_epochs: bool = True,
        noise_range_t: int | Sequence[int] | None = None,
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int = 42,
        noise_type: str = "normal",
        **kwargs: Unpack[LROptions],
    ) -> None:
        self._init_timm(t_in_epochs, noise_range_t, noise_pct, noise_std, noise_seed, noise_type, dict(kwargs))
        self._keep_cycle_arguments(
            t_initial=t_initial,
            lb=lb,
            ub=ub,
            lr_min=lr_min,
            cycle_mul=cycle_mul,
            cycle_decay=cycle_decay,
            cycle_limit=cycle_limit,
            warmup_t=warmup_t,
            warmup_lr_init=warmup_lr_init,
            warmup_prefix=warmup_prefix,
        )


class PolyLRScheduler(_TimmCyclic):
    """timm's ``PolyLRScheduler``: ``lr_min + (peak - lr_min) * (1 - x**k)**power`` over each cycle.

    The arguments are :class:`CosineLRScheduler`'s and ``power`` (timm's default 0.5).

    Examples:
        >>> PolyLRScheduler(t_initial=4, power=1.0).simulate(5, initial=1.0).tolist()
        [1.0, 0.75, 0.5, 0.25, 0.0]
    """

    _kind = "poly"

    def __init__(
        self,
        t_initial: int,
        power: float = 0.5,
        lr_min: float = 0.0,
        cycle_mul: float = 1.0,
        cycle_decay: float = 1.0,
        cycle_limit: int = 1,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = False,
        t_in_epochs: bool = True,
        noise_range_t: int | Sequence[int] | None = None,
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int = 42,
        k_decay: float = 1.0,
        noise_type: str = "normal",
        **kwargs: Unpack[LROptions],
    ) -> None:
        self._init_timm(t_in_epochs, noise_range_t, noise_pct, noise_std, noise_seed, noise_type, dict(kwargs))
        self._keep_cycle_arguments(
            t_initial=t_initial,
            power=power,
            lr_min=lr_min,
            cycle_mul=cycle_mul,
            cycle_decay=cycle_decay,
            cycle_limit=cycle_limit,
            warmup_t=warmup_t,
            warmup_lr_init=warmup_lr_init,
            warmup_prefix=warmup_prefix,
            k_decay=k_decay,
        )


class StepLRScheduler(_TimmScheduler):
    """timm's ``StepLRScheduler``: each group's lr times ``decay_rate ** (t // decay_t)``.

    Args:
        decay_t: events between decays (a float allowed, as in timm's ``t // decay_t``).
        decay_rate: the factor of each decay.
        warmup_t: warmup length, from ``warmup_lr_init`` (absolute) to each group's lr.
        warmup_lr_init: the warmup's first lr.
        warmup_prefix: the decays count after the warmup (timm's default ``True`` here).
        t_in_epochs: ``True`` counts epochs (``interval="epoch"``), ``False`` updates (``"step"``).
        noise_range_t: see :class:`CosineLRScheduler`.
        noise_pct: see :class:`CosineLRScheduler`.
        noise_std: see :class:`CosineLRScheduler`.
        noise_seed: see :class:`CosineLRScheduler`.
        noise_type: see :class:`CosineLRScheduler`.
        **kwargs: the common keyword arguments.

    Examples:
        >>> StepLRScheduler(decay_t=2, decay_rate=0.5).simulate(5, initial=1.0).tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        decay_t: float,
        decay_rate: float = 1.0,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = True,
        t_in_epochs: bool = True,
        noise_range_t: int | Sequence[int] | None = None,
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int = 42,
        noise_type: str = "normal",
        **kwargs: Unpack[LROptions],
    ) -> None:
        self._init_timm(t_in_epochs, noise_range_t, noise_pct, noise_std, noise_seed, noise_type, dict(kwargs))
        given: Any = decay_t  # type-checked as a float; a list is the usual slip (MultiStepLRScheduler's)
        if isinstance(given, (list, tuple)):
            raise TypeError(
                f"`decay_t` must be a number for StepLRScheduler (MultiStepLRScheduler takes a list), got {decay_t!r}"
            )
        self.decay_t, self.decay_rate, self.warmup_t = decay_t, decay_rate, warmup_t
        self.warmup_lr_init, self.warmup_prefix = warmup_lr_init, warmup_prefix
        probe = self._schedule(1.0)
        self.decay_t, self.decay_rate, self.warmup_t = probe.decay_t, probe.decay_rate, probe.warmup_t  # type: ignore[assignment]
        self.warmup_lr_init = probe.warmup_lr_init

    def _schedule(self, base: float) -> TimmStep:
        return TimmStep(base, self.decay_t, self.decay_rate, self.warmup_t, self.warmup_lr_init, self.warmup_prefix)


class MultiStepLRScheduler(_TimmScheduler):
    """timm's ``MultiStepLRScheduler``: each group's lr times ``decay_rate`` per milestone passed.

    timm's milestone convention, kept on purpose (timm keeps it too): milestone ``m`` applies
    from event ``m - 1`` on (``bisect_right(decay_t, t + 1)``), one event earlier than torch's
    ``MultiStepLR``; ``t`` counts after the warmup when ``warmup_prefix`` (the default).

    Args:
        decay_t: the milestones, non-decreasing.
        decay_rate: the factor of each milestone.
        warmup_t: see :class:`StepLRScheduler`.
        warmup_lr_init: see :class:`StepLRScheduler`.
        warmup_prefix: see :class:`StepLRScheduler`.
        t_in_epochs: see :class:`StepLRScheduler`.
        noise_range_t: see :class:`CosineLRScheduler`.
        noise_pct: see :class:`CosineLRScheduler`.
        noise_std: see :class:`CosineLRScheduler`.
        noise_seed: see :class:`CosineLRScheduler`.
        noise_type: see :class:`CosineLRScheduler`.
        **kwargs: the common keyword arguments.

    Examples:
        >>> MultiStepLRScheduler(decay_t=[2, 4], decay_rate=0.5).simulate(5, initial=1.0).tolist()
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        decay_t: Sequence[int],
        decay_rate: float = 1.0,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = True,
        t_in_epochs: bool = True,
        noise_range_t: int | Sequence[int] | None = None,
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int = 42,
        noise_type: str = "normal",
        **kwargs: Unpack[LROptions],
    ) -> None:
        self._init_timm(t_in_epochs, noise_range_t, noise_pct, noise_std, noise_seed, noise_type, dict(kwargs))
        if not isinstance(decay_t, (list, tuple)):
            raise TypeError(f"`decay_t` must be a list of milestones, got {decay_t!r} ({type(decay_t).__name__})")
        self.decay_t: Sequence[int] = check_int_sequence("decay_t", decay_t, strictly_increasing=False)
        self.decay_rate, self.warmup_t = decay_rate, warmup_t
        self.warmup_lr_init, self.warmup_prefix = warmup_lr_init, warmup_prefix
        probe = self._schedule(1.0)
        self.decay_t, self.decay_rate, self.warmup_t = probe.decay_t, probe.decay_rate, probe.warmup_t  # type: ignore[assignment]
        self.warmup_lr_init = probe.warmup_lr_init

    def _schedule(self, base: float) -> TimmStep:
        return TimmStep(
            base, tuple(self.decay_t), self.decay_rate, self.warmup_t, self.warmup_lr_init, self.warmup_prefix
        )
