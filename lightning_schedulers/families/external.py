"""Bring any scheduler: a ``torch.optim.lr_scheduler.LRScheduler``-style object as a callback of this package.

:class:`TorchScheduler` runs the scheduler that ``factory(optimizer)`` builds, the way Lightning's
``configure_optimizers`` path would step it, and writes what it computes into the trainer's
optimizer through this package's targets: the same values, the same log names, conflict
detection, checkpoint state and previews as every other callback here.

The scheduler runs on a *stand-in* optimizer: a light copy of the real one's param-group
hyperparameters (no parameters, no optimizer state). Stepping it is what the real scheduler would
do, since a scheduler reads and writes only those hyperparameters; the real optimizer receives
the values. That keeps the scheduler's state out of the real optimizer and makes previews
(``simulate``) and resumes possible: a checkpoint holds the scheduler's ``state_dict``, and where
it cannot be restored the scheduler is stepped again from the start (``t`` steps, once).

Examples:
    >>> import functools, torch
    >>> import lightning_schedulers as ls
    >>> cb = ls.TorchScheduler(functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5))
    >>> cb.simulate(5, initial=0.1).tolist()
    [0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import bisect
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers._validation import check_int, check_sequence
from lightning_schedulers.callbacks.base import _PREVIEW_TOTAL, SchedulerCallback
from lightning_schedulers.callbacks.binding import Binding
from lightning_schedulers.callbacks.options import Interval, PolicyOptions, Unpack
from lightning_schedulers.families.torch import ONE_CYCLE_EPOCH_WARNING
from lightning_schedulers.lightning.lengths import is_manual
from lightning_schedulers.schedules.base import Schedule, callable_name, check_callable
from lightning_schedulers.schedules.composition import Lambda
from lightning_schedulers.targets import ParamGroup, check_key, check_optimizer, resolve_optimizer, split_key

__all__ = ["TorchScheduler"]

_PREVIEW_SLOTS: ContextVar[int] = ContextVar("lightning_schedulers_preview_slots", default=1)

# The stand-in of simulate() before any fit: an SGD-like group (momentum for cycle_momentum schedulers).
_PREVIEW_GROUP = {"momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}


class _StandIn(torch.optim.Optimizer):
    """An optimizer holding only param-group hyperparameters, for a scheduler to step."""

    def __init__(self, groups: list[dict[str, Any]], defaults: dict[str, Any]) -> None:
        dummy = [{**g, "params": [torch.zeros(1, requires_grad=True)]} for g in groups]
        super().__init__(dummy, defaults)

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        return None  # nothing to optimize: a scheduler checks only that step() was called


def _plain_groups(optimizer: torch.optim.Optimizer) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The hyperparameters of each param group (tensors as floats), and the defaults, as plain values."""

    def plain(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return float(value.item())
        if isinstance(value, (tuple, list)):
            return type(value)(plain(v) for v in value)
        return value

    groups = [{k: plain(v) for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return groups, {k: plain(v) for k, v in optimizer.defaults.items()}


class _Cadence:
    """When Lightning steps a scheduler of ``configure_optimizers`` with ``{"interval": ..., "frequency": k}``.

    ``calls(t)``: how many times it has stepped before event ``t`` trains (``t`` optimizer steps,
    or epochs). ``argument(i)``: the trainer's counter when it steps for the ``i``-th time (1-based),
    what a ``lr_scheduler_step`` override reads: ``global_step`` (after that optimizer step) for
    ``interval="step"``, ``current_epoch`` (the epoch that just ended) for ``"epoch"``.

    Lightning counts a step-interval frequency on the batch index within the epoch
    (``(batch_idx + 1) % k == 0``) and skips batches that accumulate: with ``batches`` per epoch
    and ``accumulate`` batches per optimizer step, the optimizer steps of an epoch that qualify
    repeat every epoch. Without a known epoch length (a preview, a hand-written loop) each
    optimizer step counts as a batch.
    """

    def __init__(self, every: int, interval: str, batches: float = math.inf, accumulate: int = 1) -> None:
        self.every, self.interval = every, interval
        self.per_epoch = 0
        self.qualifying: list[int] = []
        if interval == "step" and math.isfinite(batches) and batches > 0:
            count = int(batches)
            self.per_epoch = -(-count // accumulate)  # optimizer steps an epoch (Lightning steps on the last batch)
            self.qualifying = [j for j in range(self.per_epoch) if min((j + 1) * accumulate, count) % every == 0]
            self.period = 0
        else:
            self.period = every if interval == "epoch" else every // math.gcd(accumulate, every)

    def calls(self, t: int) -> int:
        if self.per_epoch:
            epoch, r = divmod(t, self.per_epoch)
            return epoch * len(self.qualifying) + bisect.bisect_left(self.qualifying, r)
        return t // self.period

    def argument(self, i: int) -> int:
        if self.per_epoch:
            epoch, c = divmod(i - 1, len(self.qualifying))
            return epoch * self.per_epoch + self.qualifying[c] + 1
        return i * self.period - (1 if self.interval == "epoch" else 0)


class _Stepper:
    """A scheduler built by ``factory`` on a stand-in optimizer, stepped to whatever event is asked for.

    One cursor: stepping forward costs one ``step()`` per event; going back builds the scheduler
    again and steps it from the start. ``cadence`` says how many times Lightning has stepped the
    scheduler by an event (``frequency``), ``step_fn`` how (a ``lr_scheduler_step`` override).
    """

    def __init__(
        self,
        factory: Callable[[torch.optim.Optimizer], Any],
        groups: list[dict[str, Any]],
        defaults: dict[str, Any],
        cadence: _Cadence | None = None,
        step_fn: Callable[[Any, int], Any] | None = None,
    ) -> None:
        self.factory, self.groups, self.defaults = factory, groups, defaults
        self.cadence, self.step_fn = cadence, step_fn
        self._start()

    def _start(self) -> None:
        self.optimizer = _StandIn([dict(g) for g in self.groups], dict(self.defaults))
        self.scheduler = self.factory(self.optimizer)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            raise TypeError(
                "`factory` built torch's ReduceLROnPlateau, which steps on a metric; TorchScheduler steps "
                "schedules of the step count only. Use ls.ReduceLROnPlateau(monitor, ...) instead: torch's "
                "arguments and decisions, with base=... for a schedule underneath"
            )
        if not callable(getattr(self.scheduler, "step", None)) or getattr(self.scheduler, "optimizer", None) is None:
            raise TypeError(
                f"`factory` must build an LRScheduler-style object (with .step() and .optimizer) from the optimizer "
                f"it is given, got {self.scheduler!r}"
            )
        self.t = 0

    def state(self) -> dict[str, Any]:
        # The scheduler's state, and the hyperparameters it has set (they live in the optimizer).
        return {"t": self.t, "scheduler": self.scheduler.state_dict(), "now": _plain_groups(self.optimizer)[0]}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state; where it does not load, step again from the start (once)."""
        try:
            self.scheduler.load_state_dict(state["scheduler"])
            now = state["now"]
            if len(now) != len(self.optimizer.param_groups):
                raise ValueError("the param groups differ")
            for group, saved in zip(self.optimizer.param_groups, now, strict=True):
                group.update(saved)
            self.t = int(state["t"])
        except Exception:  # any failure to restore falls back to stepping again from the start
            self._start()

    def at_event(self, t: int) -> torch.optim.Optimizer:
        """The stand-in optimizer as the scheduler leaves it when event ``t`` trains."""
        return self.at(t if self.cadence is None else self.cadence.calls(t))

    def at(self, t: int) -> torch.optim.Optimizer:
        """The stand-in optimizer as the scheduler leaves it after ``t`` steps."""
        if t == self.t:  # every group and key of an event asks: one step serves them all
            return self.optimizer
        if t < self.t:
            self._start()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*lr_scheduler.step\\(\\)", category=UserWarning)
            while self.t < t:
                self.optimizer.step()
                if self.step_fn is None:
                    self.scheduler.step()
                else:
                    i = self.t + 1
                    self.step_fn(self.scheduler, i if self.cadence is None else self.cadence.argument(i))
                self.t += 1
        return self.optimizer


class _Column:
    """Slot ``slot``'s value of ``key`` after ``t`` scheduler steps (a picklable function of ``t``)."""

    def __init__(self, stepper: _Stepper, key: str, slot: int) -> None:
        self.stepper, self.key, self.slot = stepper, key, slot
        self.__qualname__ = f"TorchScheduler[{key}][{slot}]"

    def __call__(self, t: int) -> float:
        group = self.stepper.at_event(max(int(t), 0)).param_groups[self.slot]
        base, entry = split_key(self.key)
        if self.key == "momentum" and "momentum" not in group and "betas" in group:
            base, entry = "betas", 0
        value = group[base] if entry is None else group[base][entry]
        return float(value.item() if isinstance(value, torch.Tensor) else value)


def stepped_schedules(factory: Callable[[torch.optim.Optimizer], Any], bases: list[float]) -> list[Schedule]:
    """Each group's lr under the scheduler ``factory`` builds on a stand-in whose groups start at ``bases``."""
    stepper = _Stepper(factory, [{"lr": base} for base in bases], {"lr": bases[0] if bases else 1.0})
    return [Lambda(_Column(stepper, "lr", j)) for j in range(len(bases))]


class TorchScheduler(SchedulerCallback):
    """Any ``LRScheduler``-style scheduler, built by ``factory(optimizer)``, as a callback of this package.

    It applies the values Lightning's ``configure_optimizers`` path gives (the scheduler stepped
    once per optimizer step with ``interval="step"``, once per epoch with ``"epoch"``), bit for
    bit, for your own schedulers and other libraries' (HF transformers'
    ``get_cosine_schedule_with_warmup``, ...). Values are written as every callback of this
    package writes them: logged under ``LearningRateMonitor``'s names, refused where another
    scheduler drives the same key, kept exact across a resume mid-epoch (the scheduler's
    ``state_dict`` is in the checkpoint; a scheduler whose state does not load is stepped again
    from the start, ``t`` steps once), and previewed by ``simulate``, which steps a copy on a
    stand-in SGD optimizer (momentum 0.9) whose groups start at ``initial``.

    Args:
        factory: builds the scheduler from an optimizer: a class (``torch.optim.lr_scheduler.StepLR``
            with ``functools.partial`` for its arguments) or a function. It must be picklable for
            DDP spawn: a module-level function or a ``partial``, not a ``lambda``.
        keys: the param-group keys the scheduler sets; ``("lr",)``, with ``"momentum"`` added for a
            scheduler built with ``cycle_momentum=True`` (torch's ``OneCycleLR``, ``CyclicLR``), when
            ``None``.
        interval: ``"step"`` (default) or ``"epoch"``, as in ``configure_optimizers``.
        frequency: step the scheduler every this many steps (epochs), as the ``"frequency"`` of
            Lightning's lr scheduler config, counted as Lightning counts: for ``interval="step"``
            after the batches of each epoch with ``(batch_idx + 1) % frequency == 0`` that step the
            optimizer (the count starts again every epoch, and batches that accumulate gradients are
            skipped); for ``"epoch"`` after the epochs with ``(current_epoch + 1) % frequency == 0``.
            The epoch's length is read from the trainer when the fit starts; ``simulate`` counts every
            optimizer step as a batch.
        step: how to step the scheduler, for schedulers whose ``step`` needs an argument (timm's
            ``step(epoch)`` / ``step_update(num_updates)``, your own): ``step(scheduler, t)``, as a
            LightningModule's ``lr_scheduler_step(scheduler, metric)`` override would, with ``t`` what
            that override reads from the trainer when Lightning calls it: ``global_step`` (the
            optimizer steps done, this one included) for ``interval="step"``, ``current_epoch`` (the
            epoch that just ended) for ``"epoch"``. Lightning's documented timm recipe,
            ``scheduler.step(epoch=self.current_epoch)``, is ``step=lambda s, t: s.step(epoch=t)``
            (a module-level function for DDP spawn). ``None``: ``scheduler.step()``.
        optimizer: the optimizer (an index into ``trainer.optimizers``, or its class name).
        **kwargs: the other common keyword arguments (``name``, ``save_history``, ``logging_enabled``,
            ``on_resume``, ``clock``).

    Param groups added during the fit (``BaseFinetuning``) are not scheduled (the scheduler was
    built for the groups at the start); this is said once, as a warning.

    Examples:
        >>> import functools, torch
        >>> cb = TorchScheduler(functools.partial(torch.optim.lr_scheduler.LinearLR, start_factor=0.5, total_iters=2))
        >>> cb.simulate(4, initial=1.0).tolist()
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        factory: Callable[[torch.optim.Optimizer], Any],
        *,
        keys: Sequence[str] | None = None,
        interval: Interval = "step",
        frequency: int = 1,
        step: Callable[[Any, int], Any] | None = None,
        optimizer: int | str = 0,
        **kwargs: Unpack[PolicyOptions],
    ) -> None:
        super().__init__(interval=interval, **kwargs)  # checked by the base
        self.factory = check_callable("factory", factory)
        self.frequency = check_int("frequency", frequency, minimum=1)
        self.step = None if step is None else check_callable("step", step)
        self._cadence = _Cadence(self.frequency, self.interval)  # a preview's; the fit's is set when it starts
        self.keys = (
            None
            if keys is None
            else tuple(check_key(f"keys[{i}]", k) for i, k in enumerate(check_sequence("keys", keys)))
        )
        self.optimizer = check_optimizer(optimizer)
        self._stepper: _Stepper | None = None
        self._slots: int | None = None

    @property
    def state_key(self) -> str:
        # From the configuration alone: the keys may only be known once the scheduler is built.
        key = self.__dict__.get("_state_key")
        if key is None:
            key = self._generate_state_key(
                factory=callable_name(self.factory), optimizer=self.optimizer, interval=self.interval
            )
            self.__dict__["_state_key"] = key
        return key

    def _driven_keys(self, stepper: _Stepper | None) -> tuple[str, ...]:
        if self.keys is not None:
            return self.keys
        if stepper is None:  # no fit: ask a scheduler built on the preview stand-in (as many groups as previewed)
            count = _PREVIEW_SLOTS.get()
            stepper = self.__dict__.get("_probe", {}).get(count)
            if stepper is None:
                stepper = _Stepper(
                    self.factory,
                    [{**_PREVIEW_GROUP, "lr": 1.0}] * count,
                    {**_PREVIEW_GROUP, "lr": 1.0},
                    self._cadence,
                    self.step,
                )
                self.__dict__.setdefault("_probe", {})[count] = stepper
        cycles = bool(getattr(stepper.scheduler, "cycle_momentum", False))
        return ("lr", "momentum") if cycles else ("lr",)

    def _bindings(self) -> tuple[Binding, ...]:
        return tuple(
            Binding(ParamGroup(key, optimizer=self.optimizer), builder=self._builder(key), slots=self._slots)
            for key in self._driven_keys(self._stepper)
        )

    def _builder(self, key: str) -> Callable[[list[float]], list[Schedule]]:
        def build(bases: list[float]) -> list[Schedule]:
            stepper = self._stepper
            if stepper is None or _PREVIEW_TOTAL.get() is not None:  # a preview steps its own stand-in
                groups = [{**_PREVIEW_GROUP, "lr": base} for base in bases]
                defaults = {**_PREVIEW_GROUP, "lr": bases[0] if bases else 1.0}
                stepper = _Stepper(self.factory, groups, defaults, _Cadence(self.frequency, self.interval), self.step)
            return [Lambda(_Column(stepper, key, j)) for j in range(len(bases))]

        return build

    def _resolve(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> None:
        saved = (restored or {}).get("stand_in")
        if saved is not None and self.on_resume != "restart":
            groups, defaults = saved["groups"], saved["defaults"]
        else:
            real = trainer.optimizers[resolve_optimizer(self.optimizer, trainer.optimizers)]
            groups, defaults = _plain_groups(real)
            if self._stateless_resume and self.on_resume != "restart":
                # Resumed without this callback's state: a torch scheduler before it left each
                # group's start lr as initial_lr; the scheduler here is stepped again from those.
                for group in groups:
                    if "initial_lr" in group:
                        group["lr"] = group["initial_lr"]
        self._stepper = _Stepper(self.factory, groups, defaults, self._fit_cadence(trainer), self.step)
        if isinstance(self._stepper.scheduler, torch.optim.lr_scheduler.OneCycleLR) and self.interval == "epoch":
            rank_zero_warn(
                ONE_CYCLE_EPOCH_WARNING.format(who="TorchScheduler: a `OneCycleLR` scheduler is stepped with"),
                category=RuntimeWarning,
            )
        if saved is not None and self.on_resume != "restart":
            built_by = saved.get("factory")
            if built_by is not None and built_by != _factory_description(self.factory):
                # Another factory (functools.partial's arguments changed): its scheduler's state would
                # carry the old arguments (torch's state_dict holds them). Step the new one instead.
                rank_zero_warn(
                    f"TorchScheduler: the checkpoint's scheduler was built by {built_by}, this callback's by "
                    f"{_factory_description(self.factory)}; the saved scheduler state is not loaded (it holds the old "
                    f"arguments): the new scheduler is stepped from the start to step {saved.get('t')}"
                )
                self._stepper.at(int(saved.get("t", 0)))
            else:
                self._stepper.restore(saved)
        self._slots = len(groups)

    def _fit_cadence(self, host: Any) -> _Cadence:
        """Lightning's stepping of this fit: its epoch length and accumulation (see :class:`_Cadence`)."""
        trainer = getattr(host, "trainer", None)
        if trainer is None or self.interval == "epoch" or self.frequency == 1:
            return _Cadence(self.frequency, self.interval)
        if self.clock == "batch" or is_manual(trainer):  # every batch is an event
            return _Cadence(self.frequency, self.interval, float(trainer.num_training_batches))
        batches, accumulate = float(trainer.num_training_batches), int(trainer.accumulate_grad_batches)
        return _Cadence(self.frequency, self.interval, batches, accumulate)

    def _extra_state(self) -> dict[str, Any]:
        stepper = self._stepper
        if stepper is None:
            return {}
        return {
            "stand_in": {
                "groups": stepper.groups,
                "defaults": stepper.defaults,
                "factory": _factory_description(self.factory),
                **stepper.state(),
            }
        }

    def _check_extra(self, extra: dict[str, Any]) -> str | None:
        saved = extra.get("stand_in")
        if saved is None:
            return None
        if not isinstance(saved, dict) or not {"groups", "defaults", "t", "scheduler"} <= set(saved):
            return f"extra['stand_in'] is {saved!r}"
        if not isinstance(saved["groups"], list) or not all(isinstance(g, dict) for g in saved["groups"]):
            return f"extra['stand_in']['groups'] is {saved['groups']!r}"
        t = saved["t"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            return f"extra['stand_in']['t'] is {t!r}"
        if not isinstance(saved.get("factory", ""), str):
            return f"extra['stand_in']['factory'] is {saved['factory']!r}"
        return None

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().teardown(trainer, pl_module, stage)
        self._stepper, self._slots = None, None

    def _columns(
        self,
        num_events: int,
        initial: float | Sequence[float] | None,
        length: int,
        optimizers: Sequence[torch.optim.Optimizer] | None = None,
        units_per_step: int | None = None,
    ) -> tuple[list[str], list[np.ndarray], list[str]]:
        # The preview's group count, for the scheduler built to find the keys (before any binding).
        slots = _PREVIEW_SLOTS.set(len(initial) if isinstance(initial, Sequence) else 1)
        try:
            return super()._columns(num_events, initial, length, optimizers, units_per_step)
        finally:
            _PREVIEW_SLOTS.reset(slots)

    def __repr__(self) -> str:
        keys = "" if self.keys is None else f", keys={list(self.keys)}"
        where = f"interval={self.interval!r}, optimizer={self.optimizer!r}"
        # Shown only when given: fingerprints written before keep matching.
        where += "" if self.frequency == 1 else f", frequency={self.frequency}"
        where += "" if self.step is None else f", step={callable_name(self.step)}"
        return f"TorchScheduler({callable_name(self.factory)}{keys}, {where})"


def _factory_description(factory: Any) -> str:
    """The factory with its bound arguments (a ``functools.partial``'s), to tell two factories of one class apart."""
    if isinstance(factory, functools.partial):
        inner = _factory_description(factory.func)
        arguments = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in sorted(factory.keywords.items())]
        return f"{inner}({', '.join(arguments)})"
    return callable_name(factory)
