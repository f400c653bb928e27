"""Clocks: what an event is, how to read it cheaply, how it resumes.

A schedule is a function of an event index ``t``; a clock says which events are counted. One
clock object lives for one fit (it is made when the fit starts and closed at its end):

* :class:`ReadClock` reads a counter its host keeps: Lightning's optimizer-step counter
  (``trainer.global_step`` under automatic optimization), its training-batch counter, its epoch
  counter. Nothing to save: the host restores its own counters on resume.
* :class:`CountingClock` counts itself (``tick``): the steps of a hand-written loop
  (:mod:`lightning_schedulers.loops`). Its count is saved in the checkpoint (``"steps"``).
* :class:`OptimizerStepClock` counts the ``step()`` calls of one optimizer through torch's step
  hooks (manual optimization with several optimizers, where ``global_step`` counts them all),
  and calls back before each step so that a value changed since can be written in time.
* :class:`UnitClock` counts the samples or tokens consumed before the optimizer step now
  training (``clock="samples"`` / ``"tokens"``): the host feeds it each micro-batch's count and
  it adds the ranks' counts together when its step clock moves. Saved in the checkpoint.

The hot path reads a clock as ``getattr(clock.source, clock.field)``: one attribute read, no call.
Which clock a fit uses, and how long the fit is in its unit, is the host's to say (the Trainer
adapter in :mod:`lightning_schedulers.lightning.clocks`, the loop adapter in
:mod:`lightning_schedulers.loops`). A new clock is a class here plus its entry there.

Examples:
    >>> clock = CountingClock(3)
    >>> clock.tick()
    >>> clock.read(), clock.saved()
    (4, 4)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Clock", "CountingClock", "OptimizerStepClock", "ReadClock", "UnitClock"]


class Clock:
    """An event counter read by the engine. ``source.field`` holds the reading."""

    source: Any
    field: str

    def read(self) -> int:
        """The reading now."""
        return int(getattr(self.source, self.field))

    def saved(self) -> int | None:
        """What a checkpoint must keep to resume this clock (``None``: the host restores it)."""
        return None

    def close(self) -> None:
        """Release what the clock holds (hooks on an optimizer)."""


class ReadClock(Clock):
    """A counter the host keeps and restores: ``source.field``.

    Examples:
        >>> from types import SimpleNamespace
        >>> ReadClock(SimpleNamespace(completed=7), "completed").read()
        7
    """

    def __init__(self, source: Any, field: str) -> None:
        self.source, self.field = source, field


class CountingClock(Clock):
    """A clock that counts its own events (saved in the checkpoint)."""

    field = "count"

    def __init__(self, count: int = 0) -> None:
        self.source = self
        self.count = count

    def tick(self, events: int = 1) -> None:
        """``events`` more events have happened."""
        self.count += events

    def saved(self) -> int | None:
        return self.count


class OptimizerStepClock(CountingClock):
    """The ``step()`` calls of one optimizer, counted by torch's step post-hook.

    ``before_step(count)`` runs before each step: a value that changed since the last write (the
    clock moved within a batch, a plateau reduction) is written before the optimizer uses it.
    """

    def __init__(
        self,
        count: int,
        optimizer: torch.optim.Optimizer,
        before_step: Callable[[int], None],
        after_step: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(count)
        self._before_step = before_step
        self._after_step = after_step
        self._handles: tuple[Any, ...] = ()
        self.optimizer: torch.optim.Optimizer | None = None
        self.follow(optimizer)

    def follow(self, optimizer: torch.optim.Optimizer) -> None:
        """Count ``optimizer``'s steps from now on (an optimizer recreated during the fit)."""
        if optimizer is self.optimizer:
            return
        self.close()
        self._handles = (
            optimizer.register_step_pre_hook(self._pre),
            optimizer.register_step_post_hook(self._post),
        )
        self.optimizer = optimizer

    def _pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._before_step(self.count)

    def _post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.count += 1
        if self._after_step is not None:
            self._after_step()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self.optimizer = (), None


class UnitClock(CountingClock):
    """Samples or tokens consumed before the optimizer step now training, every rank's counted.

    The host calls :meth:`feed` with each micro-batch's count on this rank (before the batch
    trains) and :meth:`sync` once the batch is done (or from an optimizer's step hook): when
    ``steps`` (the optimizer-step clock) moved, the counts fed since the last step are added
    across ranks by ``gather`` and the clock moves by the total. Between two optimizer steps
    the reading stays put, so every micro-batch of a step trains with the same value.

    Examples:
        >>> steps = CountingClock(0)
        >>> clock = UnitClock(0, 0, steps, world=2)  # two ranks holding the same: no collective
        >>> clock.feed(128); clock.feed(128); clock.sync()  # two micro-batches, no step yet
        False
        >>> steps.tick(); clock.sync(), clock.read()
        (True, 512)
    """

    def __init__(
        self, count: int, pending: int, steps: Clock, gather: Callable[[int], int] = int, world: int = 0
    ) -> None:
        super().__init__(count)
        # Every rank holds the same count (an int count): the total is this rank's times ``world``,
        # no collective. Else (``world=0``) ``gather`` adds the ranks' counts.
        self.world = world
        self.pending = pending  # this rank's units fed since the last optimizer step
        self.steps = steps
        # The step counter, read as an attribute on the hot path (see sync).
        self.steps_source, self.steps_field = steps.source, steps.field
        self.last_steps = steps.read()
        self._gather = gather

    def feed(self, units: int) -> None:
        """A micro-batch holding ``units`` on this rank is about to train."""
        self.pending += units

    def sync(self) -> bool:
        """Move by every rank's units fed since the last step, if the optimizer has stepped since."""
        steps = getattr(self.steps_source, self.steps_field)
        if steps == self.last_steps:
            return False
        self.last_steps = steps
        self.count += self.pending * self.world if self.world else self._gather(self.pending)
        self.pending = 0
        return True

    def close(self) -> None:
        self.steps.close()
