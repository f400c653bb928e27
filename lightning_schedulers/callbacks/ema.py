"""An exponential moving average of the weights whose decay follows a schedule.

:class:`EMAWeightAveraging` is Lightning's ``lightning.pytorch.callbacks.EMAWeightAveraging``
(its subclass: the same arguments, the same updates, validation on the averaged weights, the same
checkpoint layout, the module left holding the average when the fit ends) whose ``decay`` may
also be a schedule of the optimizer step, such as timm's decay warmup
(:class:`~lightning_schedulers.schedules.ema.EMAWarmup`) or a half-life
(:class:`~lightning_schedulers.schedules.ema.HalfLife`).

The clock: the update that follows optimizer step ``t`` (0-based, ``trainer.global_step - 1``)
uses ``decay(t)``, an epoch-end update (``update_starting_at_epoch``) the ``t`` of the epoch's
last step. The first update copies the weights, as Lightning's does, whatever ``decay(t)``. The
position comes from Lightning's restored step counter, so a fit resumed from a checkpoint
continues the schedule exactly; a fraction of training inside the schedule is resolved once,
against the fit's optimizer steps, and kept in the checkpoint.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, TypeAlias

import lightning.pytorch as pl
import numpy as np
import torch

try:
    from lightning.pytorch.callbacks import EMAWeightAveraging as _LightningEMA
except ImportError as error:  # pragma: no cover - Lightning before 2.6
    raise ImportError(
        "lightning_schedulers.EMAWeightAveraging extends Lightning's EMAWeightAveraging, which Lightning 2.6 added; "
        "upgrade Lightning (pip install -U 'lightning>=2.6')"
    ) from error

from lightning_schedulers._validation import check_bool, check_int
from lightning_schedulers.lightning.lengths import fit_length
from lightning_schedulers.schedules.base import Schedule, as_float, callable_name

__all__ = ["DecaySpec", "EMAWeightAveraging"]

DecaySpec: TypeAlias = float | Schedule | Callable[[int], float]
"""A decay: a number in ``[0, 1]``, a :class:`Schedule` of the optimizer step, or a function of it."""

_AVERAGING_FUNCTIONS = ("avg_fn", "multi_avg_fn")


def _check_decay(value: Any) -> float | Schedule | Callable[[int], float]:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, bool):
        raise TypeError(f"`decay` must be a number in [0, 1], not a bool, got {value!r}")
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:  # an int like 10**400
            number = math.inf
        if not 0.0 <= number <= 1.0:  # NaN fails too
            raise ValueError(f"`decay` must be in [0, 1], got {value!r}")
        return number
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):  # a 0-dim tensor or array
        return _check_decay(value.item())
    if callable(value) and not isinstance(value, type):
        return value  # type: ignore[no-any-return]
    raise TypeError(
        f"`decay` must be a number in [0, 1], a Schedule (lightning_schedulers.schedules) or a function of the "
        f"optimizer step, got {value!r} ({type(value).__name__})"
    )


def _check_optional_int(name: str, value: Any) -> int | None:
    return None if value is None else check_int(name, value, minimum=0)


def _check_device(value: Any) -> torch.device | int | None:
    if value is None or isinstance(value, torch.device):
        return value
    if isinstance(value, str):
        try:
            return torch.device(value)
        except RuntimeError:
            raise ValueError(f"`device` must name a torch device ('cpu', 'cuda:0', ...), got {value!r}") from None
    return check_int("device", value, minimum=0)  # an accelerator index, as torch.device(int) takes


class EMAWeightAveraging(_LightningEMA):
    """Lightning's ``EMAWeightAveraging`` with a ``decay`` that may follow a schedule of the optimizer step.

    Every argument but ``decay``, ``name`` and ``logging_enabled`` is Lightning's, with its
    meaning: the average is updated after every ``update_every_n_steps``-th optimizer step
    (the 0-based step index a multiple of it) from ``update_starting_at_step`` on, and also at
    each epoch end from ``update_starting_at_epoch`` on; validation runs on the averaged weights;
    checkpoints hold the average as ``state_dict`` (and the training weights as
    ``current_model_state``); the module holds the average when the fit ends.

    The update after optimizer step ``t`` (0-based) sets ``ema = d * ema + (1 - d) * weights``
    with ``d = decay(t)``, the formula of Lightning's (``torch.optim.swa_utils.get_ema_avg_fn``),
    so a constant ``decay`` gives Lightning's numbers. The first update copies the weights.

    Args:
        device: where the averaged copy lives (Lightning's; default: the module's device).
        use_buffers: average the buffers too (Lightning's default ``True``).
        decay: a number in ``[0, 1]``, a :class:`~lightning_schedulers.schedules.Schedule` of the
            optimizer step (:class:`~lightning_schedulers.schedules.ema.EMAWarmup`,
            :class:`~lightning_schedulers.schedules.ema.HalfLife`, any shape or join), or a
            function ``f(t) -> float``. Its values must lie in ``[0, 1]``.
        update_every_n_steps: update after the steps whose 0-based index is a multiple of this (0: never after steps).
        update_starting_at_step: the first step index that updates (``None``: from the first).
        update_starting_at_epoch: also update at the end of each epoch from this one (``None``: never at epoch ends).
        name: the name the applied decay is logged under.
        logging_enabled: log the decay each update applied (0.0 for the copying first update)
            through ``trainer.loggers``, on rank zero, every ``log_every_n_steps`` steps.
        **kwargs: none are accepted: Lightning's ``avg_fn``/``multi_avg_fn`` would replace the
            decay, so they are refused with a clear error.

    Attributes:
        last_decay: the decay the latest update applied (0.0 for a copy; ``None`` before any update).

    Examples:
        >>> from lightning_schedulers.callbacks.ema import EMAWeightAveraging
        >>> from lightning_schedulers.schedules.ema import EMAWarmup
        >>> ema = EMAWeightAveraging(decay=EMAWarmup(decay=0.999, warmup_power=0.75))
        >>> [round(d, 4) for d in ema.simulate(4).tolist()]  # the decay of the update after steps 0..3
        [0.0, 0.4054, 0.5613, 0.6464]
        >>> EMAWeightAveraging(decay=lambda t: min(0.999, t / (t + 10))).decay_at(90)
        0.9
    """

    def __init__(
        self,
        device: torch.device | str | int | None = None,
        use_buffers: bool = True,
        decay: DecaySpec = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
        update_starting_at_epoch: int | None = None,
        *,
        name: str = "ema_decay",
        logging_enabled: bool = True,
        **kwargs: Any,
    ) -> None:
        for key in kwargs:
            if key in _AVERAGING_FUNCTIONS:
                raise TypeError(
                    f"EMAWeightAveraging does not take `{key}`: the average is the EMA with `decay` (a number, a "
                    "Schedule or a function of the step); for another average use lightning's WeightAveraging"
                )
            raise TypeError(f"EMAWeightAveraging got an unexpected keyword argument {key!r}")
        checked_device = _check_device(device)
        check_bool("use_buffers", use_buffers)
        checked_decay = _check_decay(decay)
        every = check_int("update_every_n_steps", update_every_n_steps, minimum=0)
        start_step = _check_optional_int("update_starting_at_step", update_starting_at_step)
        start_epoch = _check_optional_int("update_starting_at_epoch", update_starting_at_epoch)
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty str, got {name!r}")
        check_bool("logging_enabled", logging_enabled)
        super().__init__(
            device=checked_device,
            use_buffers=use_buffers,
            update_every_n_steps=every,
            update_starting_at_step=start_step,
            update_starting_at_epoch=start_epoch,
        )
        # Lightning's averaging function holds a fixed decay: ours reads the decay of the update under way.
        self._kwargs = {"avg_fn": self._average}
        self.decay = checked_decay
        self.name = name
        self.logging_enabled = logging_enabled
        self.last_decay: float | None = None
        self._schedule: Schedule | None = checked_decay if isinstance(checked_decay, Schedule) else None
        self._total: int | None = None  # the fit's optimizer steps, where the schedule holds fractions of it
        self._restored_total: int | None = None
        self._step = 0  # the 0-based index of the optimizer step the update under way follows
        self._decay_now: float | None = None  # decay(self._step), evaluated once per update
        self._log_every = 0
        self._next_log_at = 0

    def __repr__(self) -> str:
        decay = self.decay
        shown = callable_name(decay) if callable(decay) and not isinstance(decay, Schedule) else repr(decay)
        return (
            f"{type(self).__name__}(decay={shown}, update_every_n_steps={self.update_every_n_steps}, "
            f"update_starting_at_step={self.update_starting_at_step}, "
            f"update_starting_at_epoch={self.update_starting_at_epoch})"
        )

    # ----------------------------------------------------------------- the decay
    def decay_at(self, t: int) -> float:
        """The decay of the update that follows optimizer step ``t`` (0-based), checked to lie in ``[0, 1]``.

        A schedule that holds fractions of training needs the fit's length: inside a fit it is
        known; outside, use :meth:`simulate`.
        """
        decay = self.decay
        if isinstance(decay, float):
            return decay
        if isinstance(decay, Schedule):
            schedule = self._schedule if self._schedule is not None else decay
            if not schedule.is_resolved:
                raise ValueError(
                    f"EMAWeightAveraging: `decay`={decay!r} holds a fraction of training, resolved when the fit "
                    "starts; preview it with simulate(num_steps)"
                )
            value = schedule.value(t)
        else:
            value = as_float("decay", decay(t), t, decay)
        if not 0.0 <= value <= 1.0:
            raise ValueError(
                f"EMAWeightAveraging: `decay`={self._describe_decay()} gave {value!r} for the update after optimizer "
                f"step {t}; a decay must lie in [0, 1]"
            )
        return value

    def simulate(self, num_steps: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The decay of the updates after optimizer steps ``0 .. num_steps - 1``.

        Fractions of training are resolved against ``num_steps``. The first update of a fit
        copies the weights whatever this says (its applied decay is 0).
        """
        n = check_int("num_steps", num_steps, minimum=1)
        saved = self._schedule
        if isinstance(self.decay, Schedule) and not self.decay.is_resolved:
            self._schedule = self.decay.resolve(n)
        try:
            return np.array([self.decay_at(t) for t in range(n)], dtype=np.float64)
        finally:
            self._schedule = saved

    def _describe_decay(self) -> str:
        decay = self.decay
        return callable_name(decay) if callable(decay) and not isinstance(decay, Schedule) else repr(decay)

    @torch.no_grad()
    def _average(self, averaged: torch.Tensor, current: torch.Tensor, num_averaged: Any) -> torch.Tensor:
        """The averaging function handed to ``AveragedModel``: Lightning's formula with this update's decay."""
        d = self._decay_now
        if d is None:
            d = self._decay_now = self.decay_at(self._step)
        return d * averaged + (1 - d) * current

    # ----------------------------------------------------------------- Lightning hooks
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        decay = self.decay
        if isinstance(decay, Schedule) and not decay.is_resolved:
            total = self._restored_total
            if total is None:
                total = fit_length(trainer, "step", type(self).__name__)
            self._total = total
            self._schedule = decay.resolve(total)
        self._restored_total = None
        self._log_every = (
            int(trainer.log_every_n_steps)  # type: ignore[attr-defined]  # set by Trainer.__init__
            if self.logging_enabled and trainer.loggers and trainer.is_global_zero
            else 0
        )
        self._next_log_at = 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        before = self._latest_update_step
        self._step, self._decay_now = trainer.global_step - 1, None
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if self._latest_update_step != before:
            self._updated(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        before = self._latest_update_epoch
        self._step, self._decay_now = trainer.global_step - 1, None
        super().on_train_epoch_end(trainer, pl_module)
        if self._latest_update_epoch != before:
            self._updated(trainer)

    def _updated(self, trainer: pl.Trainer) -> None:
        # No averaging call means the update copied the weights (the first one).
        applied = self._decay_now if self._decay_now is not None else 0.0
        self.last_decay = applied
        every = self._log_every
        if every and self._step >= self._next_log_at:
            self._next_log_at = (self._step // every + 1) * every
            for logger in trainer.loggers:
                logger.log_metrics({self.name: applied}, step=trainer.global_step)

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self._total is not None:
            state["fit_total"] = self._total
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        total = state_dict.get("fit_total")
        self._restored_total = None if total is None else check_int("fit_total", total, minimum=1)
