"""The write engine: given a clock reading, write every bound target, report what was written.

The engine knows no Trainer. It holds the :class:`~lightning_schedulers.engine.bindings.Active`
bindings of one fit and a host (see :class:`~lightning_schedulers.engine.run.Host`) that it asks
for three things only: whether training ends now, the logging axis and epoch, and where to log.

Two paths write:

* :meth:`Engine.advance` (the hot path, once per move of the clock): where every binding writes
  plain param-group floats from a block that holds the coming events, with no plateau
  multipliers, no history and short of the next event that must warn, the values are copied
  straight from the block. Any jump of the clock inside the block qualifies, not only +1.
* :meth:`Engine.apply` (everything else): evaluates outside the block, applies plateau
  multipliers, checks finiteness and signs, keeps history, then arms the fast path again.

Reporting is decided by one rule for both paths: log at event ``t`` when ``t`` has reached the
next multiple of ``log_every`` after the last logged event (or when a write is forced: the start,
a rebind, a reduction). Under a samples or tokens clock the cadence counts the optimizer steps.

Per-slot factors (a param group's ``lr_scale``) are folded into the blocks when the targets bind;
at each logged event the engine checks that the groups still hold the ``lr_scale`` read then, and
warns once if one changed (it is not followed before the next binding).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lightning_schedulers.engine.bindings import BLOCK, WIDE, Active
from lightning_schedulers.plateau import apply_reduction

if TYPE_CHECKING:
    from lightning_schedulers.engine.clocks import UnitClock
    from lightning_schedulers.engine.run import Host

__all__ = ["Engine"]

# Per binding: the param-group dicts, the key, the block, its first event, its width, the shared constants.
_FastEntry = tuple[list[dict[str, Any]], str, Any, int, int, list[float] | None]


class Engine:
    """Writes an event's values into every bound target of one fit.

    Args:
        actives: the bound targets and their schedules.
        host: what the engine asks of its host (training ends, logging).
        who: the callback's class name, for messages.
        interval: ``"step"`` or ``"epoch"``, for messages.
        log_every: log every this many events (0: never).
        history: the list rows go to (``save_history``), or ``None``.
        history_after_events: rows hold the values written after each event (ignite's state
            schedulers) rather than the values each event trained with.
        horizon: the event from which the schedule has run out (warned once), or ``None``.
    """

    def __init__(
        self,
        actives: list[Active],
        host: Host,
        *,
        who: str,
        interval: str,
        log_every: int,
        history: list[dict[str, float]] | None,
        history_after_events: bool,
        horizon: int | None,
    ) -> None:
        self.actives = actives
        self.host = host
        self.who, self.interval = who, interval
        self.log_every = log_every
        self.history = history
        self.history_after_events = history_after_events
        self.horizon = horizon
        self.horizon_warned = False
        self.muted: frozenset[str] = frozenset()  # labels another callback logs (LearningRateMonitor)
        self.factors: dict[str, float] = {}  # target key -> a factor set from outside (set_factor)
        self.last_t = -1
        self.next_log_at = 0.0 if log_every else math.inf  # the first event that logs (never, without loggers)
        self.scale_warned = False
        # A samples or tokens clock moves by many events a step: the blocks then hold every
        # stride-th event, the stride learned from the clock's last move (see apply).
        self.stride = 1
        # A unit clock: the logging cadence counts its optimizer steps (log_every_n_steps counts
        # steps, not tokens), and the fast path expects its next move (next_t, row next_row).
        self.units: UnitClock | None = None
        self.next_t = -1
        self.next_row = 0
        self.disarm()

    # ------------------------------------------------------------------ the hot path
    def advance(self, t: int) -> None:
        """The clock reads ``t`` (and read something else before): write event ``t``."""
        if self.fast_from <= t < self.fast_until:
            self.last_t = t
            for group, key, block, start in self.fast_single:  # one param group: one entry of a list
                group[key] = block[t - start]
            for groups, key, block, start, width, shared in self.fast:
                if shared is not None:
                    v = block[t - start]
                    for group, f in zip(groups, shared):  # noqa: B905 - same length by construction
                        group[key] = f * v
                elif width >= WIDE:
                    for group, v in zip(groups, block[t - start].tolist()):  # noqa: B905
                        group[key] = v
                else:
                    i = (t - start) * width
                    for group, v in zip(groups, block[i : i + width]):  # noqa: B905
                        group[key] = v
            if t >= self.next_log_at:
                for active in self.actives:
                    active.values = active.row(t - active.block_start)
                self._report(t, force=False, log_at_end=False, initial=False)
        else:
            self.apply(t)

    def advance_units(self, t: int) -> None:
        """:meth:`advance` for a samples or tokens clock: the blocks hold every ``stride``-th event.

        The fast path takes the move the clock made last time again (``t == next_t``: a constant
        number of units a step) and writes the next row; any other move goes through :meth:`apply`,
        which learns the new stride. Kept apart so that the step clocks' hot path pays nothing for it.
        """
        if t == self.next_t and t < self.fast_until:
            i = self.next_row
            self.next_row, self.next_t, self.last_t = i + 1, t + self.stride, t
            for group, key, block, _ in self.fast_single:
                group[key] = block[i]
            for groups, key, block, _, width, shared in self.fast:
                if shared is not None:
                    v = block[i]
                    for group, f in zip(groups, shared):  # noqa: B905 - same length by construction
                        group[key] = f * v
                elif width >= WIDE:
                    for group, v in zip(groups, block[i].tolist()):  # noqa: B905
                        group[key] = v
                else:
                    for group, v in zip(groups, block[i * width : i * width + width]):  # noqa: B905
                        group[key] = v
            if self.units.last_steps >= self.next_log_at:  # type: ignore[union-attr]
                for active in self.actives:
                    active.values = active.row(i)
                self._report(t, force=False, log_at_end=False, initial=False)
        else:
            self.apply(t)

    def count_steps_with(self, units: UnitClock) -> None:
        """Follow a samples or tokens clock: blocks at the stride of its moves, logging by its optimizer steps."""
        self.units = units

    def _follow_stride(self, t: int) -> None:
        """A unit clock moved from the last event written to ``t``: evaluate blocks at that stride."""
        moved = t - self.last_t
        if self.last_t < 0 or moved <= 0 or moved == self.stride:
            return
        self.stride = moved
        for active in self.actives:
            active.stride = moved
            active.block_len = 0  # the next block is evaluated at the new stride (a short one first)

    def disarm(self) -> None:
        """Send every coming event through :meth:`apply` until it arms the fast path again."""
        self.fast: tuple[_FastEntry, ...] = ()
        self.fast_single: tuple[tuple[dict[str, Any], str, list[float], int], ...] = ()
        self.fast_from = self.fast_until = 0
        self.next_t = -1

    def _arm(self, t: int) -> None:
        """After writing event ``t``: the events :meth:`advance` may write straight from the blocks."""
        self.disarm()
        if self.history is not None:
            return
        stride = self.stride
        until = t + BLOCK * stride
        fast: list[_FastEntry] = []
        single: list[tuple[dict[str, Any], str, list[float], int]] = []
        for active in self.actives:
            plain, start = active.plain, active.block_start
            if (
                plain is None
                or active.multipliers is not None
                or not start <= t < start + active.block_len * stride
                or (t - start) % stride
            ):
                return
            until = min(until, start + active.block_len * stride)
            groups, key = plain
            if len(groups) == 1 and active.shared is None:
                single.append((groups[0], key, active.block, start))
            else:
                fast.append((groups, key, active.block, start, len(groups), active.shared))
        if self.horizon is not None and not self.horizon_warned:
            until = min(until, self.horizon)
        if self.units is not None:
            starts = {active.block_start for active in self.actives}
            if len(starts) != 1:  # advance_units reads one row index for every block
                return
            self.next_t, self.next_row = t + stride, (t - starts.pop()) // stride + 1
        self.fast, self.fast_single, self.fast_from, self.fast_until = tuple(fast), tuple(single), t + stride, until

    # ------------------------------------------------------------------ the general path
    def apply(
        self, t: int, *, force_log: bool = False, log_at_end: bool = False, initial: bool = False, quiet: bool = False
    ) -> None:
        """Write event ``t`` through the general path (plateau, checks, history), then arm the fast path.

        ``quiet``: report nothing now (the host calls :meth:`report` when the event's values are final).
        """
        if self.units is not None:
            self._follow_stride(t)
        self.last_t = t
        horizon = self.horizon
        # The value held after the last step of a fit is no overrun: no warning for it.
        if horizon is not None and t >= horizon and not self.horizon_warned and not self.host.training_ends():
            self.horizon_warned = True
            self.host.warn(
                f"{self.who}: {self.interval} {t} is past the end of the schedule ({horizon} {self.interval}s); "
                "holding its last value"
            )
        for active in self.actives:
            offset = t - active.block_start
            if active.multipliers is None and active.stride == 1 and 0 <= offset < active.block_len:
                values = active.row(offset)  # finite by construction
            else:
                values = self.values_at(active, t)
            active.values = values
            plain = active.plain
            if plain is not None:  # float entries of param groups: written inline (saves a call per step)
                key = plain[1]
                for group, v in zip(plain[0], values):  # noqa: B905 - same length by construction
                    group[key] = v
            else:
                active.bound.write(values)
        if not quiet:
            self._report(t, force=force_log, log_at_end=log_at_end, initial=initial)
        self._arm(t)

    def report(self, t: int) -> None:
        """Log (and keep in history) the values of event ``t``, written earlier with ``quiet=True``."""
        self._report(t, force=True, log_at_end=False, initial=False)

    def values_at(self, active: Active, t: int) -> list[float]:
        """Values at ``t`` outside the block: refill it, or evaluate one event; plateau and finiteness applied."""
        try:
            values = active.raw_values(t)
        except ValueError as error:  # an overflow, named by the pure layer: say which callback and when
            raise ValueError(f"{self.who} at {self.interval} {t}: {error}") from error
        multipliers = active.multipliers
        if multipliers is not None:
            values = [apply_reduction(v, m, f) for v, m, f in zip(values, multipliers, active.floors, strict=True)]
        for j, v in enumerate(values):
            if not math.isfinite(v):
                raise FloatingPointError(
                    f"{self.who}: the schedule for {active.bound.labels[j]!r} gave {v!r} at "
                    f"{self.interval} {t}; refusing to write a non-finite value"
                )
            if v < 0 and active.bound.non_negative:
                raise ValueError(
                    f"{self.who}: the schedule for {active.bound.labels[j]!r} ({active.key}) gave the "
                    f"negative value {v!r} at {self.interval} {t}; refusing to write it (check the schedule's "
                    "arguments: a negative floor, end value or min_lr)"
                )
        return values

    # ------------------------------------------------------------------ reporting
    def _report(self, t: int, *, force: bool, log_at_end: bool, initial: bool) -> None:
        every = self.log_every
        position = t if self.units is None else self.units.last_steps
        due = bool(every) and (force or position >= self.next_log_at)
        if due:
            self.next_log_at = (position // every + 1) * every
            if not self.scale_warned:
                self._check_factors()
        keep_rows = self.history is not None
        if not (due or keep_rows):
            return
        # A value written after the last step is held (ignite's state schedulers are read then)
        # but not logged: no step trains with it.
        ends = self.host.training_ends()
        log = due and (log_at_end or not ends)
        # History, as ignite's param_history: a row per event, the value it trained with, or
        # for values read after each event (state schedulers) the value written after it.
        keep = keep_rows and not (initial if self.history_after_events else ends)
        if log or keep:
            self.record(log=log, keep=keep)

    def snapshot(self) -> dict[str, float]:
        """What each target holds, by label: the value written, or what a tensor or tuple entry reads back as."""
        return {
            label: value
            for active in self.actives
            for label, value in zip(
                active.bound.labels, active.values if active.plain is not None else active.bound.read(), strict=True
            )
        }

    def record(self, *, log: bool, keep: bool = False) -> None:
        """Log what the targets hold now, and/or keep it as a history row."""
        step = self.host.log_step()
        metrics = self.snapshot()
        if keep and self.history is not None:
            row = {"step": float(step), "epoch": float(self.host.epoch()), **metrics}
            if self.history and self.history[-1]["step"] == row["step"]:
                self.history[-1] = row  # rewritten before its step trained (a plateau reduction): one row a step
            else:
                self.history.append(row)
        if log:
            muted = self.muted
            logged = {k: v for k, v in metrics.items() if k not in muted} if muted else metrics
            if logged:
                self.host.log(logged, step)

    def _check_factors(self) -> None:
        """Warn once if a param group's ``lr_scale`` changed since the targets were bound (checked when logging)."""
        for active in self.actives:
            changed = getattr(active.bound, "factors_changed", None)
            moved = changed() if changed is not None else []
            if moved:
                self.scale_warned = True
                labels = [active.bound.labels[j] for j in moved]
                self.host.warn(
                    f"{self.who}: the lr_scale of {labels} changed during the fit; the lr written still uses the "
                    "lr_scale read when the targets were bound (the start of the fit, or the last rebind: param "
                    "groups added, the optimizer replaced). Set lr_scale before the fit starts."
                )
                return

    def set_factor(self, key: str, factor: float) -> None:
        """Multiply the values of target ``key`` by ``factor`` from the next write on (1.0: no factor).

        For a component outside the callback that scales what it writes (a
        :class:`~lightning_schedulers.BatchSizeRamp`'s ``lr_scaling``): the factor is folded into
        the target's precomputed values (the fast path stays), so a plateau reduction's floor
        applies to the scaled value; it survives rebinds (it is kept by the target's key, not on
        its binding). The caller writes the held values again (``Run.write_now``) when they must
        change at once.
        """
        if factor == 1.0:
            self.factors.pop(key, None)
        else:
            self.factors[key] = factor
        for active in self.actives:
            if active.key == key:
                active.set_outside(factor)
        self.disarm()

    @property
    def armed(self) -> bool:
        """Whether the fast path holds the coming events (for tests and benchmarks)."""
        return bool(self.fast)

    def drop(self, keep: list[Active]) -> None:
        """Write only ``keep`` from now on (another callback took the rest over, or the targets were bound again)."""
        self.actives = keep
        for active in keep:  # a factor set from outside applies to the new bindings too
            factor = self.factors.get(active.key, 1.0)
            if active.outside != factor:
                active.set_outside(factor)
        self.disarm()
