"""torch's containers as callbacks: ``SequentialLR`` and ``ChainedScheduler`` (split from :mod:`.torch`).

Import them from :mod:`lightning_schedulers.families.torch` or the package's top level.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

from lightning_schedulers._validation import check_sequence
from lightning_schedulers.callbacks.options import LROptions, Unpack
from lightning_schedulers.families.common import _TorchLRScheduler
from lightning_schedulers.schedules.base import Schedule
from lightning_schedulers.schedules.composition import Join, Product
from lightning_schedulers.schedules.durations import (
    Duration,
    check_duration,
    resolve_durations,
)

__all__ = ["ChainedScheduler", "SequentialLR"]


def _check_members(cls: str, schedulers: Any, container: _TorchLRScheduler) -> list[_TorchLRScheduler]:
    items = check_sequence("schedulers", schedulers)
    members: list[_TorchLRScheduler] = []
    for i, member in enumerate(items):
        if not isinstance(member, _TorchLRScheduler) or isinstance(member, SequentialLR):
            raise TypeError(
                f"`schedulers[{i}]` must be one of this package's torch-family schedulers "
                f"(StepLR, LinearLR, ...), not a SequentialLR, got {member!r}"
            )
        if (member.optimizer, member.param_group_index) != (container.optimizer, container.param_group_index):
            raise ValueError(
                f"`schedulers[{i}]` targets optimizer={member.optimizer!r}, "
                f"param_group_index={member.param_group_index!r} but the {cls} targets "
                f"optimizer={container.optimizer!r}, param_group_index={container.param_group_index!r}; set them on "
                f"the {cls}"
            )
        if getattr(member, "cycle_momentum", False):
            raise ValueError(
                f"`schedulers[{i}]` ({type(member).__name__}) cycles momentum, which {cls} does not compose; "
                "pass cycle_momentum=False to it"
            )
        members.append(member)
    return members


def _check_increasing(name: str, values: tuple[Any, ...], given: Any) -> None:
    """Strictly increasing, checked among the values that are already numbers of events."""
    known = [v for v in values if isinstance(v, int)]
    if len(known) == len(values) and any(b <= a for a, b in itertools.pairwise(known)):
        raise ValueError(f"`{name}` must be strictly increasing, got {list(given)!r}")


class SequentialLR(_TorchLRScheduler):
    """Run schedulers one after another, switching at ``milestones`` (torch's ``SequentialLR``).

    Scheduler ``i`` runs in its own local time from ``milestones[i - 1]`` on, starting again from
    each group's initial lr, as torch's does (a ``MultiplicativeLR`` member continues from the
    current lr, as in torch). The members' own ``interval``, logging and target arguments are not
    used: the ``SequentialLR``'s apply.

    Examples:
        >>> from lightning_schedulers import ExponentialLR, LinearLR
        >>> warmup = LinearLR(start_factor=0.5, total_iters=2)
        >>> cb = SequentialLR([warmup, ExponentialLR(gamma=0.5)], milestones=[2])
        >>> cb.simulate(5, initial=1.0).tolist()
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self, schedulers: Sequence[_TorchLRScheduler], milestones: Sequence[Duration], **kwargs: Unpack[LROptions]
    ) -> None:
        super().__init__(**kwargs)
        self.schedulers = _check_members("SequentialLR", schedulers, self)
        bounds = check_sequence("milestones", milestones, allow_empty=True)
        if len(bounds) != len(self.schedulers) - 1:
            raise ValueError(
                f"`milestones` must have len(schedulers) - 1 = {len(self.schedulers) - 1} entries, "
                f"got {len(bounds)}: {milestones!r}"
            )
        self.milestones = tuple(check_duration(f"milestones[{i}]", m, minimum=1) for i, m in enumerate(bounds))
        _check_increasing("milestones", self.milestones, milestones)
        for member in self.schedulers:
            member._length_owner = self  # members' fractions resolve against this fit

    def _slots(self) -> int | None:
        return next((s._slots() for s in self.schedulers if s._slots() is not None), None)

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        milestones = tuple(self._dur(m) for m in self.milestones)
        _check_increasing("milestones", milestones, self.milestones)
        pieces = [self._resolved(self.schedulers[0]._lr_schedules(bases))]
        for i, member in enumerate(self.schedulers[1:], start=1):
            start = milestones[i - 2] if i >= 2 else 0
            previous = [piece.value(milestones[i - 1] - start - 1) for piece in pieces[-1]]
            pieces.append(self._resolved(member._sequential_piece(bases, previous)))
        return [Join(tuple(p[j] for p in pieces), milestones) for j in range(len(bases))]


class ChainedScheduler(_TorchLRScheduler):
    """Apply several schedulers at once (torch's ``ChainedScheduler``): each step steps every member.

    torch steps every member on the current lr. For members whose torch update multiplies the lr
    by a ratio (``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``, ``ExponentialLR``,
    ``PolynomialLR``, ``MultiplicativeLR``, and chains of them) the factors multiply, and the value
    is the closed form: each group's initial lr times the product of the members' factors. Any
    other member (``CosineAnnealingLR``, ``CyclicLR``, ``OneCycleLR``, ``LambdaLR``, ...) recomputes
    from the lr the members before it left, which has no closed form: the chain is then evaluated
    as torch does, by torch's own schedulers stepped on a stand-in of the optimizer's lrs, one step
    per event (so a jump to event ``t``, on resume, costs ``t`` steps once). Members that cycle
    momentum are refused (their momentum is not chained).

    Examples:
        >>> from lightning_schedulers import ConstantLR, CosineAnnealingLR, ExponentialLR
        >>> cb = ChainedScheduler([ConstantLR(factor=0.5, total_iters=2), ExponentialLR(gamma=0.9)])
        >>> cb.simulate(3, initial=1.0).round(4).tolist()
        [0.5, 0.45, 0.81]
        >>> cosine = ChainedScheduler([CosineAnnealingLR(T_max=4), ExponentialLR(gamma=0.5)])
        >>> cosine.simulate(3, initial=1.0).round(4).tolist()
        [1.0, 0.4268, 0.125]
    """

    def __init__(self, schedulers: Sequence[_TorchLRScheduler], **kwargs: Unpack[LROptions]) -> None:
        super().__init__(**kwargs)
        self.schedulers = _check_members("ChainedScheduler", schedulers, self)
        for member in self.schedulers:
            member._length_owner = self
        # Chains of multiplying members multiply too; any other member makes the chain stepped.
        self._chainable = all(member._chainable for member in self.schedulers)

    def _slots(self) -> int | None:
        return next((s._slots() for s in self.schedulers if s._slots() is not None), None)

    def _factors(self, count: int) -> list[Schedule]:
        per_member = [member._factors(count) for member in self.schedulers]
        return [Product(tuple(factors[j] for factors in per_member)) for j in range(count)]

    def _lr_schedules(self, bases: list[float]) -> list[Schedule]:
        if self._chainable:
            return super()._lr_schedules(bases)
        from lightning_schedulers.families.external import stepped_schedules

        return stepped_schedules(functools.partial(_torch_chain, self), bases)


def _torch_scheduler(member: _TorchLRScheduler, optimizer: Any) -> Any:
    """The torch scheduler ``member`` stands for, built on ``optimizer`` (lengths resolved)."""
    from torch.optim import lr_scheduler

    cls = getattr(lr_scheduler, type(member).__name__)
    if isinstance(member, ChainedScheduler):
        return cls([_torch_scheduler(m, optimizer) for m in member.schedulers], optimizer=optimizer)
    if isinstance(member, SequentialLR):
        milestones = [member._dur(m) for m in member.milestones]
        return cls(optimizer, [_torch_scheduler(m, optimizer) for m in member.schedulers], milestones=milestones)
    arguments = {k: resolve_durations(v, member._durations_total()) for k, v in member._arguments().items()}
    from lightning_schedulers.families.torch import OneCycleLR  # the module that imports this one

    if isinstance(member, OneCycleLR):
        arguments = {k: v for k, v in arguments.items() if k not in ("epochs", "steps_per_epoch")}
        arguments["total_steps"] = member._resolved_total()
    return cls(optimizer, **arguments)


def _torch_chain(chain: ChainedScheduler, optimizer: Any) -> Any:
    return _torch_scheduler(chain, optimizer)
