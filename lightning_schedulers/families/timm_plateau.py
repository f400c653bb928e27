"""timm's ``PlateauLRScheduler`` as a Lightning callback: torch's plateau rule between timm's warmup and noise.

timm's class wraps torch's ``ReduceLROnPlateau``; its ``step(epoch, metric)`` does three things,
which map onto the plateau machinery of this package as follows:

* while ``epoch <= warmup_t`` it writes the linear warmup and ignores the metric: the pure
  :class:`~lightning_schedulers.schedules.timm.TimmPlateauWarmup` holds the warmup (and then the
  value it reached), and the plateau callbacks' ``decide_from`` ignores every metric read while
  the targets hold an event of the warmup, so the rule starts afresh after it;
* afterwards it steps torch's rule on the lr from before the noise (it restores that lr first):
  the decision is :class:`~lightning_schedulers.plateau.PlateauState`'s, the reduction torch's
  ``max(lr * decay_rate, lr_min)`` (kept when it moves the lr by ``eps`` or less);
* then, inside ``noise_range_t``, it multiplies the lr by ``1 + noise(epoch)``
  (:class:`~lightning_schedulers.families.timm.TimmNoise`, a pure function of the epoch), after
  the floor: the binding's schedule carries the noise, and the reductions are kept as multipliers
  of the value the warmup reached, floored when they are decided rather than when they are written.

Examples:
    >>> from lightning_schedulers.families.timm import PlateauLRScheduler
    >>> PlateauLRScheduler("val_acc", warmup_t=2, warmup_lr_init=0.01).simulate(4, initial=0.1).round(4).tolist()
    [0.01, 0.055, 0.1, 0.1]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lightning_schedulers._validation import check_float, check_int
from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.options import ResumePolicy
from lightning_schedulers.callbacks.reduce import _ReduceOnPlateau
from lightning_schedulers.engine.bindings import Active, Binding
from lightning_schedulers.families.timm_noise import TimmNoise, check_range, noise_of
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Product
from lightning_schedulers.schedules.timm import TimmPlateauWarmup
from lightning_schedulers.targets import BoundTarget, ParamGroup

__all__ = ["PlateauLRScheduler"]

TORCH_EPS = 1e-8
"""torch's ``ReduceLROnPlateau`` default ``eps``, which timm does not change."""


def _after_warmup(noise: TimmNoise | None, warmup_t: int) -> TimmNoise | None:
    """``noise`` where timm applies it: inside its range and after the warmup (whose epochs get none)."""
    if noise is None:
        return None
    first, span = warmup_t + 1, noise.noise_range_t
    if isinstance(span, tuple):
        start = max(span[0], first)
        return dataclasses.replace(noise, noise_range_t=(start, span[1])) if start < span[1] else None
    return dataclasses.replace(noise, noise_range_t=max(span, first))


class PlateauLRScheduler(_ReduceOnPlateau):
    """timm's ``PlateauLRScheduler``: warmup, then torch's plateau rule on ``monitor``, then noise.

    timm's arguments, minus ``optimizer`` and ``initialize``, after ``monitor`` (the logged
    metric, as in Lightning's scheduler config). Epoch ``e`` trains with what timm's ``step(e,
    metric)`` writes when its ``train.py`` calls it after epoch ``e - 1`` with that epoch's metric
    (epoch 0 with what its constructor wrote):

    * ``e <= warmup_t``: ``warmup_lr_init + e * (lr - warmup_lr_init) / warmup_t``, each param
      group from its own lr; the metrics of epochs ``0 .. warmup_t - 1`` are ignored;
    * then torch's ``ReduceLROnPlateau`` on the value the warmup reached (each group's lr without
      a warmup): ``decay_rate``, ``patience_t``, ``threshold`` (relative), ``cooldown_t``,
      ``mode`` (timm's default ``"max"``), ``lr_min`` (absolute, the same for every group), and
      torch's ``eps=1e-8``;
    * inside ``noise_range_t`` and after the warmup, that lr times ``1 + noise(e)``, timm's draw
      (see :class:`~lightning_schedulers.families.timm.TimmNoise`); the next reduction starts
      from the lr before the noise, as timm restores it.

    Decisions happen at the end of every training epoch, on ``trainer.callback_metrics[monitor]``
    (that epoch's validation, or what training logged), where Lightning steps a scheduler of
    ``configure_optimizers`` with ``"interval": "epoch"`` and ``"reduce_on_plateau": True``; a
    missing metric is an error (``strict``). Unlike timm's class (whose checkpoint keeps ``best``
    only), the whole state is kept in the checkpoint: a resumed fit decides as an uninterrupted
    one. As :class:`~lightning_schedulers.ReduceLROnPlateau`, a NaN or infinite metric never
    becomes the best value. ``simulate`` shows the values before any reduction (which depends on
    metrics): the warmup and the noise. In a hand-written loop (``bind``), call
    ``bound.epoch_end()`` and then ``bound.report(metrics)`` after each epoch, as timm's
    ``train.py`` calls ``step(epoch + 1, metric)``: the report decides for the coming epoch.

    Args:
        monitor: the logged metric to watch.
        decay_rate: the factor of each reduction, in (0, 1) (torch's ``factor``).
        patience_t: epochs without improvement tolerated before a reduction.
        threshold: the least relative change that counts as an improvement.
        cooldown_t: epochs after a reduction during which no bad epoch is counted.
        warmup_t: warmup length, in epochs; 0: none.
        warmup_lr_init: the warmup's first lr (absolute).
        lr_min: the floor of the reductions (absolute, the same for every param group).
        mode: ``"max"`` (timm's default: accuracy) or ``"min"``.
        noise_range_t: the epochs with noise: ``e >= noise_range_t``, or ``start <= e < stop``
            (never during the warmup).
        noise_type: ``"normal"`` or ``"uniform"``.
        noise_pct: the noise's bound, as a fraction of the lr.
        noise_std: the normal noise's standard deviation.
        noise_seed: the seed; epoch ``e`` draws from ``noise_seed + e`` (``None``: 42, as timm).
        verbose: report each reduction once, on rank zero.
        strict: a missing metric is an error; ``False`` warns once and leaves the values unchanged.
        optimizer: index (or class name) into ``trainer.optimizers``.
        param_group_index: only this param group: its index, or its name (its ``"name"`` entry).
        name: logging name.
        save_history: keep the applied values in ``history``.
        logging_enabled: log the applied values (every reduction is logged at its step).
        on_resume: what a resumed fit does with the stored schedule (see the base class).

    Examples:
        >>> cb = PlateauLRScheduler("val_acc", decay_rate=0.5, patience_t=2, noise_range_t=3, noise_pct=0.1)
        >>> cb.interval, cb.mode, cb.decide_from
        ('epoch', 'max', 1)
        >>> [round(v, 4) for v in cb.simulate(5, initial=0.1).tolist()]
        [0.1, 0.1, 0.1, 0.1031, 0.0936]
    """

    def __init__(
        self,
        monitor: str,
        decay_rate: float = 0.1,
        patience_t: int = 10,
        threshold: float = 1e-4,
        cooldown_t: int = 0,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        lr_min: float = 0.0,
        mode: str = "max",
        noise_range_t: int | Sequence[int] | None = None,
        noise_type: str = "normal",
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int | None = None,
        *,
        verbose: bool = False,
        strict: bool = True,
        optimizer: int | str = 0,
        param_group_index: int | str | None = None,
        name: str | None = None,
        save_history: bool = False,
        logging_enabled: bool = True,
        on_resume: ResumePolicy = "replan",
    ) -> None:
        # Checked under timm's names before the plateau machinery checks them under torch's.
        rate = check_float("decay_rate", decay_rate)
        if not 0.0 < rate < 1.0:
            raise ValueError(f"`decay_rate` must be in (0, 1), got {decay_rate!r}")
        patience = check_int("patience_t", patience_t, minimum=0)
        cooldown = check_int("cooldown_t", cooldown_t, minimum=0)
        self.warmup_t = check_int("warmup_t", warmup_t, minimum=0)
        self.warmup_lr_init = check_float("warmup_lr_init", warmup_lr_init, non_negative=True)
        self.lr_min = check_float("lr_min", lr_min, non_negative=True)
        self.noise_range_t = check_range(noise_range_t)
        self.noise_type, self.noise_pct, self.noise_std = noise_type, noise_pct, noise_std
        self.noise_seed = 42 if noise_seed is None else noise_seed
        noise = noise_of(self.noise_range_t, noise_pct, noise_std, noise_type, self.noise_seed)
        self._noise = _after_warmup(noise, self.warmup_t)
        super().__init__(
            monitor,
            ParamGroup("lr", optimizer=optimizer, param_group_index=param_group_index),
            mode,
            rate,
            patience,
            threshold,
            "rel",
            cooldown,
            0.0,  # lr_min is applied when a reduction is decided: the noise comes after it
            TORCH_EPS,
            strict,
            verbose,
            None,
            name,
            save_history,
            logging_enabled,
            on_resume,
            "optimizer",
            None,
            "epoch",  # where Lightning steps a scheduler of configure_optimizers with "interval": "epoch"
            1,
            self.warmup_t + 1,  # timm ignores the metric of step(epoch) while epoch <= warmup_t
        )

    # timm's names for the rule's settings.
    @property
    def decay_rate(self) -> float:
        """The factor of each reduction."""
        return self.factor

    @property
    def patience_t(self) -> int:
        """Epochs without improvement tolerated before a reduction."""
        return self.state.patience

    @property
    def cooldown_t(self) -> int:
        """Epochs after a reduction during which no bad epoch is counted."""
        return self.state.cooldown

    def __repr__(self) -> str:
        target = self.target
        assert isinstance(target, ParamGroup)
        return (
            f"PlateauLRScheduler(monitor={self.monitor!r}, decay_rate={self.factor!r}, patience_t={self.patience_t}, "
            f"threshold={self.threshold!r}, cooldown_t={self.cooldown_t}, warmup_t={self.warmup_t}, "
            f"warmup_lr_init={self.warmup_lr_init!r}, lr_min={self.lr_min!r}, mode={self.mode!r}, "
            f"noise_range_t={self.noise_range_t!r}, noise_type={self.noise_type!r}, noise_pct={self.noise_pct!r}, "
            f"noise_std={self.noise_std!r}, noise_seed={self.noise_seed!r}, optimizer={target.optimizer!r}, "
            f"param_group_index={target.param_group_index!r})"
        )

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        """Each group's lr before any reduction: the warmup from its own lr, then noise."""
        schedules: list[Schedule] = [TimmPlateauWarmup(b, self.warmup_t, self.warmup_lr_init) for b in bases]
        if self._noise is None:
            return schedules
        return [Product((s, self._noise)) for s in schedules]

    def _bindings(self) -> tuple[Binding, ...]:
        return (Binding(self.target, builder=self._lr_schedules),)

    def _stateless_bases(self, binding: Binding, bound: BoundTarget, current: list[float], t: int) -> list[float]:
        # The schedule (the warmup) would apply twice to values it wrote: the generic rule, which
        # finds the initial_lr timm's constructor left in each param group.
        return SchedulerCallback._stateless_bases(self, binding, bound, current, t)

    def _reduced(self, active: Active, t: int) -> list[float]:
        """Torch's reduction of the lr before the noise: ``max(lr * decay_rate, lr_min)``, if it moves by more than eps.

        After the warmup that lr is the value the warmup reached times the multiplier (the noise is
        1 at ``warmup_t``); the new multiplier is the reduced lr over that value.
        """
        multipliers = active.multipliers or [1.0] * len(active.schedules)
        out = []
        for j, m in enumerate(multipliers):
            reached = active.raw_value(j, self.warmup_t)
            before = reached * m
            after = max(before * self.factor, self.lr_min)
            out.append(after / reached if before - after > self.eps else m)
        return out
