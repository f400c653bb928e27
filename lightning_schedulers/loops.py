"""Hand-written loops (Fabric, plain PyTorch): every callback of this package, without a Trainer.

``callback.bind(optimizer)`` returns a :class:`BoundSchedule` that writes the callback's values
into the optimizer's param groups (and module attributes, with ``module=``). Call ``step()`` after
each optimizer step (and ``epoch_end()`` after each epoch, for ``interval="epoch"`` callbacks);
keep ``state_dict()`` in your checkpoints. The values are the ones the Trainer callback writes for
the same steps, bit for bit: both drive the same :class:`~lightning_schedulers.engine.run.Run`.

Examples:
    >>> import torch, lightning_schedulers as ls
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    >>> bound = ls.WarmupCosineLR(warmup_steps=0.1).bind(opt, total_steps=100)
    >>> for _ in range(10):
    ...     opt.step()
    ...     bound.step()
    >>> opt.param_groups[0]["lr"]
    0.001
    >>> sorted(bound.state_dict())[:3]
    ['bases', 'clock', 'config']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from lightning_schedulers._validation import check_int
from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.engine.clocks import Clock, CountingClock, UnitClock
from lightning_schedulers.engine.run import Run
from lightning_schedulers.engine.state import UNIT_CLOCKS, is_count, state_problem
from lightning_schedulers.engine.units import sum_over_ranks

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback

__all__ = ["BoundSchedule", "LogFunction", "LoopHost", "bind"]

LogFunction = Callable[[dict[str, float], int], None]
"""``log_fn(metrics, step)``: where a bound schedule reports its values (``fabric.log_dict`` fits)."""


def bind(
    callback: SchedulerCallback,
    optimizers: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    *,
    module: Any = None,
    total_steps: int | None = None,
    total_epochs: int | None = None,
    log_fn: LogFunction | None = None,
    log_every_n_steps: int = 50,
) -> BoundSchedule:
    """Bind ``callback`` to a hand-written loop; the values for step 0 are written at once.

    Args:
        callback: any scheduler callback of this package (a plateau callback with its ``base``).
        optimizers: the optimizer, or the list of them (``optimizer=`` indices refer to it).
            Fabric's wrapped optimizers are accepted.
        module: the root of :class:`~lightning_schedulers.Attribute` targets (Fabric's wrapped
            module is accepted).
        total_steps: the run's length in optimizer steps, for fractions of training and
            lengths taken from the fit (``interval="step"``).
        total_epochs: the run's length in epochs, for ``interval="epoch"`` callbacks.
        log_fn: called as ``log_fn(values, step)`` every ``log_every_n_steps`` steps (and at
            every forced write: the start, a reduction), with the names a Trainer fit logs.
        log_every_n_steps: the logging cadence.

    Returns:
        The bound schedule: ``step()``, ``epoch_end()``, ``report(metrics)``, ``state_dict()``,
        ``load_state_dict()``, ``values``.
    """
    return BoundSchedule(callback, optimizers, module, total_steps, total_epochs, log_fn, log_every_n_steps)


class LoopHost:
    """A hand-written loop as a run's host (see :class:`~lightning_schedulers.engine.run.Host`)."""

    def __init__(
        self,
        optimizers: list[torch.optim.Optimizer],
        module: Any,
        total_steps: int | None,
        total_epochs: int | None,
        log_fn: LogFunction | None,
        log_every: int,
        counts: tuple[int, int],
    ) -> None:
        self._optimizers = optimizers
        self.optimizers_holder: tuple[object, str] = (self, "_optimizers")
        self._module = module
        self.total_steps, self.total_epochs = total_steps, total_epochs
        self.log_fn = log_fn
        self.log_every = log_every if log_fn is not None else 0
        self.steps, self.epochs = CountingClock(counts[0]), CountingClock(counts[1])
        self.counted_per_rank = False  # whether this step's units were given by the loop (step(units=...))

    @property
    def optimizers(self) -> Sequence[torch.optim.Optimizer]:
        return self._optimizers

    @property
    def module(self) -> Any:
        return self._module

    def make_clock(self, run: Run, state: dict[str, Any] | None) -> Clock:
        callback = run.callback
        if callback.interval == "epoch":
            return self.epochs
        if callback.clock not in UNIT_CLOCKS:
            return self.steps
        count = int(state.get("steps") or 0) if state is not None else 0
        pending = state.get("units_pending") if state is not None else None
        return UnitClock(count, pending if isinstance(pending, int) else 0, self.steps, self._gather)

    def _gather(self, units: int) -> int:
        # Counts given per step may differ between ranks: add them up; an int count is every rank's.
        return sum_over_ranks(units) if self.counted_per_rank else units * _world()

    def fit_length(self, callback: SchedulerCallback) -> int:
        epochs = callback.interval == "epoch"
        if not epochs and callback.clock in UNIT_CLOCKS:
            raise ValueError(
                f"{type(callback).__name__}: with clock={callback.clock!r} a fraction of the run (or a length taken "
                f"from it) needs the run's length in {callback.clock}, which a hand-written loop does not know; give "
                f"the lengths in {callback.clock}"
            )
        total = self.total_epochs if epochs else self.total_steps
        if total is None:
            argument = "total_epochs" if epochs else "total_steps"
            raise ValueError(
                f"{type(callback).__name__}: a length is a fraction of the run (or the whole run), and the run's "
                f"length is not known; pass bind(..., {argument}=N)"
            )
        return total

    def resumed_without_state(self) -> bool:
        return False

    def check_setup(self, run: Run) -> None:
        """Nothing else writes the targets in a hand-written loop."""

    def kept(self, actives: list[Active]) -> list[Active]:
        return actives

    def monitored_labels(self, actives: Sequence[Active]) -> frozenset[str]:
        return frozenset()

    def inside_accumulation_window(self) -> bool:
        return False

    def training_ends(self) -> bool:
        return self.total_steps is not None and self.steps.count >= self.total_steps

    def write_changed(self, run: Run) -> None:
        run.write_now(log_at_end=True)

    def broadcast(self, value: Any) -> Any:
        # Fabric's strategies (and torchrun) initialise torch.distributed: decide on rank zero's value.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            box = [value]
            torch.distributed.broadcast_object_list(box, src=0)
            return box[0]
        return value

    def log_step(self) -> int:
        return self.steps.count

    def epoch(self) -> int:
        return self.epochs.count

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.log_fn is not None:
            self.log_fn(metrics, step)

    def warn(self, message: str) -> None:
        if _rank() == 0:
            warnings.warn(message, UserWarning, stacklevel=4)

    def info(self, message: str) -> None:
        if _rank() == 0:
            print(message)


def _world() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return int(torch.distributed.get_world_size())
    return 1


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return int(torch.distributed.get_rank())
    return 0


class BoundSchedule:
    """A callback driven by a hand-written loop (made by ``callback.bind(...)``).

    ``step()`` after each optimizer step writes the values the next step trains with;
    ``epoch_end()`` after each epoch does the same for ``interval="epoch"`` callbacks;
    ``report(metrics)`` (or ``step(metrics=...)``) passes the monitored value to a plateau callback.
    ``state_dict()`` / ``load_state_dict()`` make it a stateful object for ``fabric.save`` /
    ``fabric.load`` and ``torch.save``: a resumed run continues exactly.
    """

    def __init__(
        self,
        callback: SchedulerCallback,
        optimizers: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
        module: Any,
        total_steps: int | None,
        total_epochs: int | None,
        log_fn: LogFunction | None,
        log_every_n_steps: int,
    ) -> None:
        from lightning_schedulers.callbacks.base import SchedulerCallback

        if not isinstance(callback, SchedulerCallback):
            raise TypeError(f"bind() takes a scheduler callback of this package, got {callback!r}")
        if callback._length_owner is not callback:
            raise ValueError(
                f"{callback!r} is driven by {callback._length_owner!r} (its base or member); bind that one instead"
            )
        self.callback = callback
        self._optimizers = _check_optimizers(optimizers)
        self._module = None if module is None else getattr(module, "_original_module", None) or module
        self._total_steps = None if total_steps is None else check_int("total_steps", total_steps, minimum=1)
        self._total_epochs = None if total_epochs is None else check_int("total_epochs", total_epochs, minimum=1)
        if log_fn is not None and not callable(log_fn):
            raise TypeError(f"`log_fn` must be callable as log_fn(metrics, step) or None, got {log_fn!r}")
        self._log_fn = log_fn
        self._log_every = check_int("log_every_n_steps", log_every_n_steps, minimum=1)
        self._start(None)

    def _start(self, state: dict[str, Any] | None) -> None:
        callback = self.callback
        previous = callback._run
        if previous is not None:
            previous.close()
            callback._run = None
        loop = state.get("loop", {}) if state is not None else {}
        counts = (int(loop.get("steps", 0)), int(loop.get("epochs", 0)))
        self._host = LoopHost(
            self._optimizers, self._module, self._total_steps, self._total_epochs, self._log_fn, self._log_every, counts
        )
        self._run = Run(callback, self._host, state)
        self._run.write_initial()

    # ------------------------------------------------------------------ the loop's calls
    def step(self, metrics: Mapping[str, float] | None = None, *, units: int | None = None) -> None:
        """One optimizer step is done: write the values the next step trains with.

        ``metrics`` (a validation's, say) are then passed to :meth:`report`. With
        ``clock="samples"`` or ``"tokens"``, ``units`` is what this step consumed on this rank (all
        its micro-batches); the ranks' counts are added (one all-reduce under torch.distributed).
        Without it, an int ``count`` of the callback is taken as every rank's units per step.
        """
        run = self._run
        if run.changed():  # optimizer.load_state_dict (fabric.load) replaced the param groups
            run.rebind()
        unit_clock = run.units
        if unit_clock is not None:
            unit_clock.feed(self._step_units(units))
        elif units is not None:
            raise ValueError(
                f"`units`={units!r} counts samples or tokens; {type(self.callback).__name__} has "
                f"clock={self.callback.clock!r} (pass clock='samples' or 'tokens' to the callback)"
            )
        self._host.steps.tick()
        if self.callback.interval == "step":
            engine = run.engine
            if unit_clock is not None:
                unit_clock.sync()
                t = unit_clock.count - run.offset
                if t != engine.last_t:  # type: ignore[union-attr]
                    engine.advance_units(t)  # type: ignore[union-attr]
            else:
                t = self._host.steps.count - run.offset
                if t != engine.last_t:  # type: ignore[union-attr]
                    engine.advance(t)  # type: ignore[union-attr]
        if metrics is not None:
            self.report(metrics)

    def _step_units(self, units: int | None) -> int:
        count = self.callback.count
        if units is None:
            if not isinstance(count, int):
                raise ValueError(
                    f"{type(self.callback).__name__} counts {self.callback.clock} (clock={self.callback.clock!r}): "
                    "pass "
                    "step(units=...), the units this step consumed on this rank, or give the callback an int `count`"
                )
            self._host.counted_per_rank = False
            return count
        self._host.counted_per_rank = True
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise ValueError(f"`units` must be a non-negative int (this step's {self.callback.clock}), got {units!r}")
        return units

    def epoch_end(self) -> None:
        """An epoch is done: ``interval="epoch"`` callbacks write the next epoch's values."""
        run = self._run
        if run.changed():
            run.rebind()
        self._host.epochs.tick()
        if self.callback.interval == "epoch":
            run.engine.apply(run.now(), force_log=True)  # type: ignore[union-attr]

    def report(self, metrics: Mapping[str, float]) -> None:
        """Metrics for a plateau decision (``{"val_loss": 0.31}``); other callbacks ignore them."""
        if not isinstance(metrics, Mapping):
            raise TypeError(f"`metrics` must be a mapping of names to numbers, got {metrics!r}")
        self.callback._on_metrics(self._run, {str(k): float(v) for k, v in metrics.items()})

    # ------------------------------------------------------------------ what it holds
    @property
    def values(self) -> dict[str, float]:
        """What each target holds now, by the name a Trainer fit logs it under."""
        engine = self._run.engine
        assert engine is not None
        for active in engine.actives:
            active.values = active.bound.read()
        return engine.snapshot()

    @property
    def steps(self) -> int:
        """The optimizer steps counted so far."""
        return self._host.steps.count

    def state_dict(self) -> dict[str, Any]:
        """Plain values (loads with ``weights_only=True``): the callback's record and the loop's counts."""
        state = self._run.record()
        state["loop"] = {"steps": self._host.steps.count, "epochs": self._host.epochs.count}
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue from a saved state: the counts, start values, lengths and plateau state are restored."""
        state = dict(state_dict)
        problem = state_problem(state)
        loop = state.get("loop")
        if problem is None and (
            not isinstance(loop, dict) or not all(is_count(loop.get(k)) for k in ("steps", "epochs"))
        ):
            problem = f"loop is {loop!r}"
        if problem is None:
            problem = self.callback._check_extra(state["extra"])
        if problem is not None:
            raise ValueError(
                f"{type(self.callback).__name__}: bound.load_state_dict got a state that bound.state_dict() did not "
                f"write ({problem})"
            )
        if state.get("config") != self.callback._config() and self.callback.on_resume in ("replan", "continue"):
            self._host.warn(
                f"{type(self.callback).__name__}: the state was written by a different configuration; resuming with "
                f"the new one.\n  saved: {state.get('config')}\n  now:   {self.callback._config()}"
            )
        self._start(state)

    def close(self) -> None:
        """Stop driving the targets (the callback can be bound or used in a Trainer again)."""
        self._run.close()
        if self.callback._run is self._run:
            self.callback._run = None


def _check_optimizers(value: Any) -> list[torch.optim.Optimizer]:
    items = [value] if not isinstance(value, (list, tuple)) else list(value)
    if not items:
        raise ValueError("`optimizers` is empty; give the optimizer(s) the schedule drives")
    out = []
    for i, item in enumerate(items):
        inner = getattr(item, "optimizer", item) if hasattr(item, "_optimizer") else item  # Fabric's wrapper
        if not isinstance(inner, torch.optim.Optimizer):
            raise TypeError(f"`optimizers[{i}]` must be a torch optimizer, got {item!r} ({type(item).__name__})")
        out.append(inner)
    return out
