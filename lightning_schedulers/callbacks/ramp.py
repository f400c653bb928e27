"""Batch-size ramps: gradient accumulation that grows (or shrinks) during training, at optimizer-step boundaries.

:class:`BatchSizeRamp` sets ``trainer.accumulate_grad_batches`` from a ``{clock value: batches}``
dict, as Lightning's ``GradientAccumulationScheduler`` does from ``{epoch: batches}``, but at any
optimizer step: the clock is the optimizer steps taken, or the samples or tokens consumed before
the step.

How Lightning decides to step (``lightning/pytorch/loops/training_epoch_loop.py``): after the
``r``-th batch of an epoch when ``r % accumulate_grad_batches == 0`` or the epoch ends, and it
zeroes the gradients before batch ``i`` when ``i % accumulate_grad_batches == 0``. So a window of
``A`` batches can only start at a batch index that is a multiple of ``A``: a change asked for at
another index waits for the next window that starts at one (at the latest the next epoch's first
batch), and the callback says so once. With that rule, each optimizer step accumulates exactly
the accumulation in force when its window started (the epoch's last window may be shorter, as in
Lightning).

The same rule, written once in :meth:`BatchSizeRamp._decide`, drives the fit and
:meth:`BatchSizeRamp.plan`, which counts the optimizer steps of a planned fit (fit lengths, previews).

Examples:
    >>> ramp = BatchSizeRamp({0: 1, 4: 2, 8: 4})
    >>> ramp.plan(batches_per_epoch=12, max_epochs=3).batches().tolist()
    [1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers._validation import MAX_EVENTS, check_choice, check_int
from lightning_schedulers.engine.clocks import UnitClock
from lightning_schedulers.engine.units import Count, batch_units, check_count
from lightning_schedulers.lightning.clocks import optimizer_steps, ranks_gather

if TYPE_CHECKING:
    from lightning_schedulers.engine.run import Run

__all__ = ["BatchSizeRamp", "RampPlan", "ramp_of"]

RampClock = Literal["optimizer", "samples", "tokens"]
LRScaling = Literal["sqrt", "linear"]
RAMP_CLOCKS = ("optimizer", "samples", "tokens")
LR_SCALINGS = ("sqrt", "linear")
STATE_VERSION = 1


@dataclass(frozen=True)
class RampPlan:
    """The optimizer steps of a planned fit under a ramp, as runs of identical steps.

    Each run is ``(epoch, accumulation, batches, steps)``: ``steps`` consecutive optimizer steps
    of ``epoch``, each accumulating ``batches`` micro-batches while ``trainer.accumulate_grad_batches``
    is ``accumulation`` (``batches`` is smaller only for an epoch's last, shorter window).
    """

    runs: tuple[tuple[int, int, int, int], ...]

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the fit."""
        return sum(run[3] for run in self.runs)

    @property
    def total_batches(self) -> int:
        """Training batches (per process) of the fit."""
        return sum(run[2] * run[3] for run in self.runs)

    @property
    def steps_per_epoch(self) -> list[int]:
        """Optimizer steps in each epoch the fit starts (the last possibly cut short by ``max_steps``)."""
        counts: list[int] = []
        for epoch, _, _, steps in self.runs:
            counts.extend([0] * (epoch + 1 - len(counts)))
            counts[epoch] += steps
        return counts

    def _per_step(self, field: int) -> np.ndarray:
        return np.repeat(
            np.array([run[field] for run in self.runs], dtype=np.int64),
            np.array([run[3] for run in self.runs], dtype=np.int64),
        )

    def epochs(self) -> np.ndarray:
        """The epoch of each optimizer step."""
        return self._per_step(0)

    def accumulation(self) -> np.ndarray:
        """``trainer.accumulate_grad_batches`` while each optimizer step accumulates."""
        return self._per_step(1)

    def batches(self) -> np.ndarray:
        """The micro-batches each optimizer step accumulates."""
        return self._per_step(2)

    def consumed(self, units_per_batch: int, world_size: int = 1) -> np.ndarray:
        """The units consumed before each optimizer step (a sample or token clock's reading while it trains).

        ``units_per_batch`` is what a batch holds on each of ``world_size`` processes.

        Examples:
            >>> BatchSizeRamp({0: 1, 2: 2}).plan(6, max_epochs=1).consumed(8, world_size=2).tolist()
            [0, 16, 32, 64]
        """
        per_step = self.batches() * (units_per_batch * world_size)
        return np.concatenate(([0], np.cumsum(per_step)[:-1])).astype(np.int64)


class BatchSizeRamp(Callback):
    """Change gradient accumulation during training, on the optimizer-step, sample or token clock.

    Each optimizer step accumulates the number of micro-batches ``scheduling`` gives at the clock's
    reading when its window starts: batch-size warmup (as in GPT-3, OLMo) on Lightning's
    ``accumulate_grad_batches``. A change that would start a window at a batch index that is not a
    multiple of the new value waits for the next window that does (Lightning steps and zeroes
    gradients by the batch index modulo the accumulation), with one warning naming the step.

    Args:
        scheduling: ``{clock value: accumulate_grad_batches}``, from that clock value on. Before
            the smallest key the fit accumulates 1 batch (as ``GradientAccumulationScheduler``).
        clock: what the keys count: ``"optimizer"`` (optimizer steps taken), ``"samples"`` or
            ``"tokens"`` (consumed before the step, every micro-batch of every process counted).
        count: for ``"samples"``/``"tokens"``: the units a batch holds on this process, an int
            or a function of the batch; by default (samples only) the size of the batch's first
            tensor. A function (or the default) costs one collective per optimizer step under DDP
            (the processes' counts are added); an int costs none.
        lr_scaling: ``"sqrt"`` or ``"linear"``: scale the lr written by this package's scheduler
            callbacks by ``(accumulation / first accumulation) ** 0.5`` (or ``** 1``), the
            effective batch size relative to the one the fit starts with; ``None`` (default) leaves
            the lr alone.

    Add it to the Trainer's callbacks (``pl.Trainer(callbacks=[ramp, ...])``), with no
    ``accumulate_grad_batches`` given to the Trainer. :meth:`plan` and :meth:`steps_in_fit` count
    the optimizer steps of a planned fit.

    Examples:
        >>> ramp = BatchSizeRamp({0: 1, 1000: 2, 3000: 4}, lr_scaling="sqrt")
        >>> ramp.accumulation_at(2500), ramp.lr_factor(4)
        (2, 2.0)
        >>> ramp.steps_in_fit(batches_per_epoch=1000, max_epochs=5)
        3000
    """

    def __init__(
        self,
        scheduling: Mapping[int, int],
        clock: RampClock = "optimizer",
        count: Count | None = None,
        lr_scaling: LRScaling | None = None,
    ) -> None:
        if not isinstance(scheduling, Mapping):
            raise TypeError(
                f"`scheduling` must be a dict of {{clock value: accumulate_grad_batches}}, got {scheduling!r} "
                f"({type(scheduling).__name__})"
            )
        if not scheduling:
            raise ValueError("`scheduling` needs at least one {clock value: accumulate_grad_batches} entry, got {}")
        entries: dict[int, int] = {}
        for key, value in scheduling.items():
            for what, number, low in (("key", key, 0), ("value", value, 1)):
                if isinstance(number, bool) or not isinstance(number, int):
                    raise TypeError(
                        f"`scheduling` {what}s must be ints, got {number!r} ({type(number).__name__}) in {scheduling!r}"
                    )
                if not low <= number <= MAX_EVENTS:
                    raise ValueError(
                        f"`scheduling` {what}s must be in [{low}, 2**53], got {number!r} in {scheduling!r}"
                    )
            entries[key] = value
        self.clock = cast(RampClock, check_choice("clock", clock, RAMP_CLOCKS))
        self.count = check_count(count, self.clock)
        if self.clock == "tokens" and self.count is None:
            raise ValueError(
                "clock='tokens' needs `count`: the tokens a batch holds on this process (an int, or a function of "
                "the batch such as `lambda batch: int(batch['attention_mask'].sum())`), got count=None"
            )
        self.lr_scaling = (
            None if lr_scaling is None else cast(LRScaling, check_choice("lr_scaling", lr_scaling, LR_SCALINGS))
        )
        # As GradientAccumulationScheduler: before the first key, one batch a step.
        self.scheduling: dict[int, int] = {0: 1, **dict(sorted(entries.items()))}
        self._keys = list(self.scheduling)
        self._values = list(self.scheduling.values())
        self._fit: _RampFit | None = None
        self._loaded: dict[str, Any] | None = None  # loaded, not yet taken by a fit
        self._final: dict[str, Any] | None = None  # the last fit's state, after it ended

    def __repr__(self) -> str:
        given = [f"{self.scheduling!r}", f"clock={self.clock!r}"]
        if self.count is not None:
            given.append(f"count={getattr(self.count, '__name__', self.count)!r}")
        if self.lr_scaling is not None:
            given.append(f"lr_scaling={self.lr_scaling!r}")
        return f"{type(self).__name__}({', '.join(given)})"

    # ----------------------------------------------------------------- the rule (pure)
    def accumulation_at(self, clock_value: int) -> int:
        """The accumulation ``scheduling`` gives at ``clock_value`` (before any wait for an aligned window)."""
        return self._values[bisect.bisect_right(self._keys, clock_value) - 1]

    def lr_factor(self, accumulation: int) -> float:
        """The lr multiplier of ``lr_scaling`` for ``accumulation`` (1.0 without ``lr_scaling``)."""
        if self.lr_scaling is None:
            return 1.0
        ratio = accumulation / self._values[0]
        return math.sqrt(ratio) if self.lr_scaling == "sqrt" else ratio

    def lr_factors(self, plan: RampPlan) -> np.ndarray:
        """The lr multiplier of every optimizer step of ``plan`` (what a preview multiplies the lr by).

        Examples:
            >>> ramp = BatchSizeRamp({0: 1, 4: 4}, lr_scaling="sqrt")
            >>> ramp.lr_factors(ramp.plan(8, max_epochs=1)).tolist()
            [1.0, 1.0, 1.0, 1.0, 2.0]
        """
        accumulation = plan.accumulation()
        if self.lr_scaling is None:
            return np.ones(len(accumulation))
        ratio = accumulation / self._values[0]
        return np.sqrt(ratio) if self.lr_scaling == "sqrt" else ratio.astype(np.float64)

    def _decide(self, position: int, clock_value: int, current: int) -> tuple[int, int | None]:
        """The accumulation of the window that starts at batch ``position`` of its epoch, and a deferred one.

        ``current`` is in force. The scheduled value takes over if a window of its size can start
        here (``position`` is a multiple of it); otherwise ``current`` stays and the scheduled
        value is returned as deferred.
        """
        target = self.accumulation_at(clock_value)
        if target == current or position % target == 0:
            return target, None
        return current, target

    def _next_key(self, clock_value: int) -> int | None:
        index = bisect.bisect_right(self._keys, clock_value)
        return self._keys[index] if index < len(self._keys) else None

    # ----------------------------------------------------------------- planned fits
    def plan(
        self,
        batches_per_epoch: int | None,
        max_epochs: int | None = None,
        max_steps: int = -1,
        *,
        world_size: int = 1,
        units_per_batch: int | None = None,
    ) -> RampPlan:
        """The optimizer steps of a fit under this ramp, by the rule the fit follows.

        Args:
            batches_per_epoch: training batches per epoch on each process (Lightning's
                ``trainer.num_training_batches``); ``None`` for a dataloader without a length (one
                epoch that ``max_steps`` ends).
            max_epochs: epochs of the fit (``None`` or -1: limited by ``max_steps`` only).
            max_steps: optimizer steps of the fit (-1: limited by ``max_epochs`` only).
            world_size: data-parallel processes (samples and tokens are counted on all of them).
            units_per_batch: for ``"samples"``/``"tokens"``: the units a batch holds on each
                process (defaults to ``count`` when it is an int). Every batch is taken to hold as
                many, so with a shorter last batch per epoch the plan is approximate.

        Returns:
            A :class:`RampPlan`. Its cost grows with the epochs and the scheduling's entries, not
            with the steps.

        Examples:
            >>> ramp = BatchSizeRamp({0: 1, 16: 2, 48: 4}, clock="samples")
            >>> ramp.plan(10, max_epochs=2, units_per_batch=4).batches().tolist()
            [1, 1, 1, 1, 2, 2, 2, 2, 2, 4, 2]
        """
        if batches_per_epoch is not None:
            check_int("batches_per_epoch", batches_per_epoch, minimum=1)
        if max_epochs is not None:
            check_int("max_epochs", max_epochs, minimum=-1)
        check_int("max_steps", max_steps, minimum=-1)
        check_int("world_size", world_size, minimum=1)
        epochs = None if max_epochs is None or max_epochs == -1 else max_epochs
        if (epochs is None or batches_per_epoch is None) and max_steps == -1:
            raise ValueError(
                f"the fit has no end: give `max_steps`, or `max_epochs` and `batches_per_epoch` (got "
                f"max_epochs={max_epochs!r}, max_steps={max_steps!r}, batches_per_epoch={batches_per_epoch!r})"
            )
        endless = 2**62  # the batches of an epoch without a length: max_steps ends it first
        per_step = 0  # the clock's move per micro-batch (0: the optimizer clock moves per step)
        if self.clock != "optimizer":
            units = units_per_batch if units_per_batch is not None else self.count
            if not isinstance(units, int) or isinstance(units, bool):
                raise ValueError(
                    f"{self!r} counts {self.clock} and its count is a function of the batch: give "
                    f"`units_per_batch` (the {self.clock} a batch holds on each process) to plan the fit, got "
                    f"units_per_batch={units_per_batch!r}"
                )
            per_step = check_int("units_per_batch", units, minimum=0) * world_size
        runs: list[tuple[int, int, int, int]] = []
        n = endless if batches_per_epoch is None else batches_per_epoch
        for run in self._runs(n, epochs, max_steps, per_step):
            if runs and runs[-1][:3] == run[:3]:
                runs[-1] = (*run[:3], runs[-1][3] + run[3])
            else:
                runs.append(run)
        return RampPlan(tuple(runs))

    def steps_in_fit(
        self,
        batches_per_epoch: int | None,
        max_epochs: int | None = None,
        max_steps: int = -1,
        *,
        world_size: int = 1,
        units_per_batch: int | None = None,
    ) -> int:
        """The optimizer steps of a fit under this ramp (see :meth:`plan` for the arguments)."""
        return self.plan(
            batches_per_epoch, max_epochs, max_steps, world_size=world_size, units_per_batch=units_per_batch
        ).total_steps

    def trainer_plan(self, trainer: pl.Trainer) -> RampPlan:
        """:meth:`plan` of ``trainer``'s fit (once its training dataloader is set up: from ``on_train_start``).

        For ``"samples"`` with the default ``count``, a batch holds the training ``DataLoader``'s
        ``batch_size``. A length that cannot be known (an iterable dataset without ``max_steps``,
        a function ``count``) is a ``ValueError`` that says so.
        """
        batches = trainer.num_training_batches
        units: int | None = None
        if self.clock != "optimizer":
            units = self.count if isinstance(self.count, int) else None
            loader = trainer.train_dataloader
            size = getattr(loader, "batch_size", None)
            if units is None and self.clock == "samples" and isinstance(size, int):
                units = size
            if units is None:
                raise ValueError(
                    f"{self!r}: the fit's optimizer steps depend on the {self.clock} each batch holds, which only a "
                    f"count=<int> (or, for samples, a DataLoader with a batch_size) tells before the fit; give "
                    "lengths in steps, or count=<int>"
                )
        return self.plan(
            int(batches) if math.isfinite(batches) else None,
            trainer.max_epochs,
            -1 if trainer.max_steps is None else int(trainer.max_steps),
            world_size=int(trainer.world_size),
            units_per_batch=units,
        )

    def _runs(self, n: int, epochs: int | None, max_steps: int, per_batch: int) -> Iterator[tuple[int, int, int, int]]:
        """``(epoch, accumulation, batches, steps)`` runs, jumping from one possible change to the next."""
        clock_value, done, epoch = 0, 0, 0
        current = self.accumulation_at(0)
        while (epochs is None or epoch < epochs) and (max_steps == -1 or done < max_steps):
            position = 0
            while position < n and (max_steps == -1 or done < max_steps):
                current, deferred = self._decide(position, clock_value, current)
                full = (n - position) // current
                if full == 0:  # the epoch's last window, shorter: Lightning steps at the epoch's end
                    rest = n - position
                    yield epoch, current, rest, 1
                    clock_value += 1 if per_batch == 0 else rest * per_batch
                    position, done = n, done + 1
                    continue
                windows = full
                if max_steps != -1:
                    windows = min(windows, max_steps - done)
                nxt = self._next_key(clock_value)
                if nxt is not None:  # the first window that starts at or past the next key decides again
                    if per_batch == 0:
                        windows = min(windows, nxt - clock_value)
                    elif per_batch > 0:
                        windows = min(windows, -(-(nxt - clock_value) // (current * per_batch)))
                if deferred is not None:  # the first window that starts at a multiple of the deferred value
                    aligned = next(
                        (k for k in range(1, min(deferred, windows) + 1) if (position + k * current) % deferred == 0),
                        None,
                    )
                    if aligned is not None:
                        windows = aligned
                yield epoch, current, current, windows
                clock_value += windows if per_batch == 0 else windows * current * per_batch
                position, done = position + windows * current, done + windows
            epoch += 1

    # ----------------------------------------------------------------- the fit
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _check_trainer(self, trainer, pl_module)
        state, self._loaded = self._loaded, None
        resumed = getattr(trainer, "ckpt_path", None) is not None and trainer.global_step > 0
        accumulation: int | None = self._values[0]
        units_count, pending, warned = 0, 0, set()
        if state is not None:
            if state["clock"] != self.clock:
                raise ValueError(
                    f"{self!r}: the checkpoint was written by a ramp with clock={state['clock']!r}; its position "
                    f"counts other units. Resume with clock={state['clock']!r}, or remove the ramp's entry from the "
                    "checkpoint's callbacks to start it afresh."
                )
            if [list(item) for item in self.scheduling.items()] != state["scheduling"]:
                rank_zero_warn(
                    f"{self!r}: the checkpoint was written with scheduling {dict(state['scheduling'])}; resuming "
                    "with the new one"
                )
            accumulation = state["accumulation"]
            units_count, pending = state["units"] or 0, state["units_pending"] or 0
            warned = set(state["warned"])
        elif resumed:
            accumulation = None  # found at the first window (see on_train_batch_start)
            if self.clock != "optimizer":
                if not isinstance(self.count, int):
                    raise ValueError(
                        f"{self!r}: this fit resumes from a checkpoint that holds no state for the ramp, and the "
                        f"{self.clock} consumed so far are not known (count is a function of the batch). Resume from "
                        "a checkpoint written with the ramp."
                    )
                batches = int(trainer.fit_loop.epoch_loop.batch_progress.total.completed)
                units_count = batches * int(trainer.world_size) * self.count
        units = None
        if self.clock != "optimizer":
            gather, world = ranks_gather(trainer, self.count)
            units = UnitClock(units_count, pending, optimizer_steps(trainer), gather, world=world)
        fit = self._fit = _RampFit(self, accumulation, units)
        fit.warned = warned
        if self.lr_scaling is not None:
            fit.lr_callbacks = _lr_callbacks(trainer)
            if not fit.lr_callbacks:
                rank_zero_warn(
                    f"{self!r}: lr_scaling={self.lr_scaling!r} scales the lr that this package's scheduler callbacks "
                    "write, and no callback of this fit drives the lr; the lr is not scaled. Add one (for a constant "
                    "lr, ls.ScheduleCallback(Constant(1.0), ParamGroup('lr', relative=True)))."
                )
        # Before the epoch loop restarts: Lightning reads the accumulation when it resumes mid-epoch.
        trainer.accumulate_grad_batches = accumulation or self.accumulation_at(
            int(trainer.global_step) if units is None else units.count
        )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        fit = self._fit
        if fit is None:
            return
        if fit.units is not None:
            fit.units.feed(batch_units(batch, self.count, batch_idx, self.clock))
        current = fit.accumulation
        if current is None or batch_idx % current == 0:  # a window starts: the optimizer stepped before it
            fit.window_start(trainer, batch_idx)
        if fit.lr_callbacks:
            fit.scale_lr()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        fit = self._fit
        if fit is not None and fit.units is not None:
            fit.units.sync()  # when the optimizer stepped: the processes' counts added, one collective

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            self._loaded = None
        fit = self._fit
        if fit is not None:
            self._final = fit.state()
            self._fit = None
            trainer.accumulate_grad_batches = 1  # a later fit of this Trainer starts as a new one

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        if self._loaded is not None:
            return dict(self._loaded)
        if self._fit is not None:
            return self._fit.state()
        if self._final is not None:
            return dict(self._final)
        return {}  # no fit yet: a resume from it starts the ramp afresh

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            self._loaded = None
            return
        problem = _state_problem(state_dict)
        if problem is not None:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the checkpoint's state for the ramp is not one it wrote "
                f"({problem}); resume from a checkpoint it wrote, or remove its entry from checkpoint['callbacks']"
            )
        self._loaded = dict(state_dict)


class _RampFit:
    """One fit of a ramp: the accumulation in force, the units counted, what was said and scaled.

    Made at ``on_train_start`` and dropped at ``teardown``, so a reused ramp needs no reset.
    """

    def __init__(self, ramp: BatchSizeRamp, accumulation: int | None, units: UnitClock | None) -> None:
        self.ramp = ramp
        self.accumulation = accumulation  # in force; None until the first window (a resume without state)
        self.units = units
        self.warned: set[int] = set()  # scheduling keys whose deferral was announced
        self.lr_callbacks: list[Any] = []  # scheduler callbacks that drive an lr (lr_scaling)
        self.scaled: dict[int, tuple[Run, float]] = {}  # id(run) -> (run, factor last set on it)

    def window_start(self, trainer: pl.Trainer, batch_idx: int) -> None:
        """A window starts at batch ``batch_idx`` of the epoch: the accumulation it trains with."""
        ramp, current = self.ramp, self.accumulation
        step = int(trainer.global_step)
        clock_value = step if self.units is None else self.units.count
        if current is None:
            # Resumed without the ramp's state: the largest accumulation whose window can start
            # here and from which the scheduled value can be reached.
            current = math.gcd(batch_idx, ramp.accumulation_at(clock_value))
        accumulation, deferred = ramp._decide(batch_idx, clock_value, current)
        if accumulation != self.accumulation:
            self.accumulation = accumulation
            trainer.accumulate_grad_batches = accumulation
        if deferred is not None:
            self.announce(step, clock_value, batch_idx, accumulation, deferred)

    def announce(self, step: int, clock_value: int, index: int, current: int, wanted: int) -> None:
        """Say once per scheduling entry that its change waits for an aligned window."""
        ramp = self.ramp
        key = ramp._keys[bisect.bisect_right(ramp._keys, clock_value) - 1]
        if key in self.warned:
            return
        self.warned.add(key)
        where = f"optimizer step {step}" + ("" if self.units is None else f" ({clock_value} {ramp.clock} consumed)")
        rank_zero_warn(
            f"{type(ramp).__name__}: at {where} the ramp asks for accumulate_grad_batches={wanted}, but the window "
            f"starts at batch {index} of the epoch, not a multiple of {wanted}. Lightning steps and zeroes gradients "
            "by the batch index modulo accumulate_grad_batches, so switching here would cut the window short and "
            f"keep stale gradients; accumulate_grad_batches stays {current} until a window starts at a multiple of "
            f"{wanted} (at the latest at the next epoch). Ramp points on such boundaries avoid the wait."
        )

    def scale_lr(self) -> None:
        """Give every lr callback's run the factor of the accumulation in force (once per change, or new run)."""
        if self.accumulation is None:
            return
        factor = self.ramp.lr_factor(self.accumulation)
        for callback in self.lr_callbacks:
            run = callback._active_run
            if run is None or run.engine is None:
                continue
            known = self.scaled.get(id(run))
            if known is not None and known[0] is run and known[1] == factor:
                continue
            self.scaled[id(run)] = (run, factor)
            for key in _lr_keys(run.callback):
                run.engine.set_factor(key, factor)
            run.write_now()  # the window starting now trains with it (logged)

    def state(self) -> dict[str, Any]:
        """The checkpoint state: plain values."""
        units = self.units
        return {
            "version": STATE_VERSION,
            "scheduling": [list(item) for item in self.ramp.scheduling.items()],
            "clock": self.ramp.clock,
            "accumulation": self.accumulation,
            "units": None if units is None else units.count,
            "units_pending": None if units is None else units.pending,
            "warned": sorted(self.warned),
        }


def _check_trainer(ramp: BatchSizeRamp, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
    """Refuse a fit whose accumulation the ramp cannot drive, saying why."""
    from lightning.pytorch.callbacks import GradientAccumulationScheduler

    if not pl_module.automatic_optimization:
        raise ValueError(
            f"{ramp!r}: gradient accumulation is Lightning's automatic optimization; this LightningModule uses "
            "manual optimization (accumulate in training_step, or remove the ramp)"
        )
    callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]
    others = [c for c in callbacks if isinstance(c, (BatchSizeRamp, GradientAccumulationScheduler)) and c is not ramp]
    if others:
        raise ValueError(
            f"{ramp!r}: this fit also has {others}, which set accumulate_grad_batches too; keep one of them"
        )
    if trainer.accumulate_grad_batches != 1:
        raise ValueError(
            f"{ramp!r} sets accumulate_grad_batches, and the Trainer was given accumulate_grad_batches="
            f"{trainer.accumulate_grad_batches}; remove it from the Trainer (or remove the ramp)"
        )
    if trainer.strategy.handles_gradient_accumulation:
        raise ValueError(
            f"{ramp!r}: the strategy {type(trainer.strategy).__name__} accumulates gradients itself (DeepSpeed's "
            "gradient_accumulation_steps), and Lightning cannot change it during a fit"
        )


def _state_problem(state: Any) -> str | None:
    def count(value: Any, low: int = 0) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_EVENTS

    if not isinstance(state, dict):
        return f"not a dict: {state!r}"
    if state.get("version") != STATE_VERSION:
        return f"version {state.get('version')!r}"
    if state.get("clock") not in RAMP_CLOCKS:
        return f"clock {state.get('clock')!r}"
    entries = state.get("scheduling")
    if not isinstance(entries, list) or not all(
        isinstance(e, list) and len(e) == 2 and count(e[0]) and count(e[1], 1) for e in entries
    ):
        return f"scheduling {entries!r}"
    accumulation = state.get("accumulation")
    if accumulation is not None and not count(accumulation, 1):
        return f"accumulation {accumulation!r}"
    for key in ("units", "units_pending"):
        if state.get(key) is not None and not count(state.get(key)):
            return f"{key} {state.get(key)!r}"
    warned = state.get("warned")
    if not isinstance(warned, list) or not all(count(k) for k in warned):
        return f"warned {warned!r}"
    return None


def ramp_of(trainer: pl.Trainer) -> BatchSizeRamp | None:
    """The :class:`BatchSizeRamp` among ``trainer``'s callbacks, if any (for fit lengths and previews)."""
    callbacks: list[Callback] = getattr(trainer, "callbacks", [])
    return next((c for c in callbacks if isinstance(c, BatchSizeRamp)), None)


def _lr_keys(callback: Any) -> list[str]:
    """The descriptions (engine keys) of the lr param-group targets ``callback`` writes."""
    from lightning_schedulers.targets import ParamGroup

    return [
        b.target.describe() for b in callback._bindings() if isinstance(b.target, ParamGroup) and b.target.key == "lr"
    ]


def _lr_callbacks(trainer: pl.Trainer) -> list[Any]:
    """This package's scheduler callbacks in the fit that write an lr."""
    from lightning_schedulers.callbacks.base import SchedulerCallback

    callbacks: list[Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return [c for c in callbacks if isinstance(c, SchedulerCallback) and _lr_keys(c)]
