"""lightning-bolts' schedulers (``pl_bolts.optimizers.lr_scheduler``) as Lightning callbacks.

* :class:`LinearWarmupCosineAnnealingLR` takes bolts' arguments minus ``optimizer`` and
  ``last_epoch``; its values are those bolts' recursive ``get_lr`` gives when the scheduler is
  stepped once per epoch (``interval="epoch"``, the default) or step, quirks included (see
  :mod:`lightning_schedulers.schedules.bolts`): the warmup reaches each group's lr at
  ``warmup_epochs - 1``, ``warmup_epochs=0`` anneals from ``warmup_start_lr``, and past
  ``max_epochs`` the cosine rises again as torch's ``CosineAnnealingLR`` does.
* :func:`linear_warmup_decay` returns the callback that applies bolts' ``linear_warmup_decay``
  factor function the way bolts uses it, in a ``LambdaLR`` stepped every optimizer step: each
  group's initial lr times the factor.

lightning-bolts is not needed (it requires pytorch-lightning < 2).

Examples:
    >>> from lightning_schedulers.families.bolts import LinearWarmupCosineAnnealingLR
    >>> cb = LinearWarmupCosineAnnealingLR(warmup_epochs=3, max_epochs=7)
    >>> cb.simulate(8, initial=1.0).round(4).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from lightning_schedulers._validation import check_bool, check_float
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import _TotalFromTrainer
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.bolts import BoltsWarmupCosine, BoltsWarmupDecay
from lightning_schedulers.schedules.durations import Duration, check_duration

__all__ = ["LinearWarmupCosineAnnealingLR", "LinearWarmupDecayLR", "linear_warmup_decay"]


class LinearWarmupCosineAnnealingLR(_TotalFromTrainer):
    """bolts' ``LinearWarmupCosineAnnealingLR``: linear warmup from ``warmup_start_lr``, then cosine to ``eta_min``.

    Args:
        warmup_epochs: the warmup length in events (epochs with the default ``interval``).
        max_epochs: where the cosine reaches ``eta_min`` (or a fraction of the fit); the fit's
            length when ``None``. It must exceed ``warmup_epochs``.
        warmup_start_lr: the first lr (absolute, the same for every param group).
        eta_min: the floor (absolute).
        **kwargs: the common keyword arguments (``interval="epoch"`` by default; bolts recommends
            stepping per iteration, ``interval="step"``, with lengths in steps).

    The cosine does not stop at ``max_epochs`` (bolts' does not either): it rises again, with
    period ``2 * (max_epochs - warmup_epochs)``.

    Examples:
        >>> cb = LinearWarmupCosineAnnealingLR(1, max_epochs=3, warmup_start_lr=0.1, eta_min=0.2)
        >>> cb.simulate(5, initial=1.0).round(4).tolist()
        [0.1, 1.0, 0.6, 0.2, 0.6]
    """

    _default_interval = "epoch"

    def __init__(
        self,
        warmup_epochs: Duration,
        max_epochs: Duration | None = None,
        warmup_start_lr: float = 0.0,
        eta_min: float = 0.0,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.warmup_epochs = check_duration("warmup_epochs", warmup_epochs, minimum=0)
        self.max_epochs = None if max_epochs is None else check_duration("max_epochs", max_epochs, minimum=1)
        self.warmup_start_lr = check_float("warmup_start_lr", warmup_start_lr, non_negative=True)
        self.eta_min = check_float("eta_min", eta_min, non_negative=True)
        self._set_total(self.max_epochs)
        self._horizon = None  # the values go on past max_epochs (a cosine wave), as bolts'

    def _schedule(self, base: float, total: int) -> BoltsWarmupCosine:
        return BoltsWarmupCosine(base, self._dur(self.warmup_epochs), total, self.warmup_start_lr, self.eta_min)

    def _check_total(self, total: int) -> None:
        self._schedule(1.0, total)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        super()._resolve(trainer, restored)
        self._horizon = None

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        total = self._resolved_total()
        return [self._schedule(base, total) for base in bases]


class LinearWarmupDecayLR(_TotalFromTrainer):
    """Each group's lr times bolts' ``linear_warmup_decay`` factor; see :func:`linear_warmup_decay`.

    Examples:
        >>> LinearWarmupDecayLR(2, 4, cosine=False).simulate(6, initial=1.0).tolist()
        [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    """

    _default_interval = "step"

    def __init__(
        self,
        warmup_steps: Duration,
        total_steps: Duration | None = None,
        cosine: bool = True,
        linear: bool = False,
        **kwargs: Unpack[LROptions],
    ) -> None:
        super().__init__(**kwargs)
        self.warmup_steps = check_duration("warmup_steps", warmup_steps, minimum=0)
        self.total_steps = None if total_steps is None else check_duration("total_steps", total_steps, minimum=1)
        self.cosine = check_bool("cosine", cosine)
        self.linear = check_bool("linear", linear)
        if cosine and linear:
            raise ValueError(
                "`cosine` and `linear` are exclusive (bolts asserts not both); got cosine=True, linear=True"
            )
        self._set_total(self.total_steps)
        self._horizon = None  # bolts' factor is defined past total_steps (see linear_warmup_decay)

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        super()._resolve(trainer, restored)
        self._horizon = None

    def _factors(self, count: int) -> list[Schedule]:
        factor = BoltsWarmupDecay(self._dur(self.warmup_steps), self._resolved_total(), self.cosine, self.linear)
        return [factor] * count


def linear_warmup_decay(
    warmup_steps: Duration,
    total_steps: Duration | None = None,
    cosine: bool = True,
    linear: bool = False,
    **kwargs: Unpack[LROptions],
) -> LinearWarmupDecayLR:
    """The callback that applies bolts' ``linear_warmup_decay`` factor as bolts' ``LambdaLR`` of it does.

    bolts' function is a ``LambdaLR`` factor: ``t / warmup_steps`` during the warmup, then a
    cosine to 0 at ``total_steps`` (``cosine=True``, the default), a linear decay to 0
    (``cosine=False, linear=True``) or 1 (neither). As in bolts, nothing stops at
    ``total_steps``: the cosine rises again after it, and the linear factor turns negative,
    which an lr cannot take (the fit then stops with an error at that step): give the fit's
    length, or leave ``total_steps=None`` for it.

    Args:
        warmup_steps: the warmup length in steps (or a fraction of the fit).
        total_steps: where the decay reaches 0 (or a fraction of the fit); the fit's length when ``None``.
        cosine: decay along a cosine.
        linear: decay linearly (with ``cosine=False``).
        **kwargs: the common keyword arguments (``interval="step"`` by default).

    Returns:
        A :class:`LinearWarmupDecayLR`.

    Examples:
        >>> linear_warmup_decay(2, 6).simulate(7, initial=1.0).round(4).tolist()
        [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
    """
    return LinearWarmupDecayLR(warmup_steps, total_steps, cosine, linear, **kwargs)
