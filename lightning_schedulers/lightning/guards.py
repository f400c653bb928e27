"""Guards: other callbacks and schedulers of the Trainer that touch what a callback drives.

Run by one :func:`check_setup` when a fit starts and at every rebind (an optimizer recreated,
param groups added), so a setup that changes mid-fit is checked as the starting one is:

* another callback of this package on the same target: an error (or, for a plateau callback's
  ``base`` passed to the Trainer too, an error saying to remove it);
* a scheduler returned by ``configure_optimizers`` on the same key: an error;
* ``BackboneFinetuning`` next to a schedule on every group of the first optimizer: an error
  (it writes the lr of the group it adds);
* ``LearningRateMonitor``: not a conflict; the series it logs are left to it
  (:func:`monitored_labels`);
* ``StochasticWeightAveraging``: from its start epoch its SWALR drives the first optimizer's lr;
  the callback hands that lr over (:func:`without_swa_lr`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BackboneFinetuning, LearningRateMonitor, StochasticWeightAveraging

from lightning_schedulers.engine.bindings import Active
from lightning_schedulers.targets import Attribute, BoundParamGroups, ParamGroup

if TYPE_CHECKING:
    from lightning_schedulers.callbacks.base import SchedulerCallback

__all__ = ["check_setup", "monitored_labels", "swa_start", "without_swa_lr"]


def claims(callback: SchedulerCallback, optimizers: Sequence[Any], module: Any = None) -> set[tuple[Any, ...]]:
    """What ``callback`` writes: ``("param_group", optimizer, group, key)`` and ``("attribute", path)`` entries.

    With ``module``, an attribute pattern claims the paths it matches there.
    """
    out: set[tuple[Any, ...]] = set()
    for binding in callback._bindings():
        target = binding.target
        out |= target.claims(optimizers, module) if isinstance(target, Attribute) else target.claims(optimizers)
    return out


def check_setup(callback: SchedulerCallback, trainer: pl.Trainer) -> None:
    """Refuse a target that another callback, or a scheduler from ``configure_optimizers``, drives too."""
    from lightning_schedulers.callbacks.base import SchedulerCallback

    module = trainer.lightning_module
    mine = claims(callback, trainer.optimizers, module)
    for other in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(other, BackboneFinetuning):
            _check_backbone_finetuning(callback, trainer, other)
        if other is callback or not isinstance(other, SchedulerCallback):
            continue
        shared = mine & claims(other, trainer.optimizers, module)
        if shared and (callback._drives(other) or other._drives(callback)):
            driver, base = (callback, other) if callback._drives(other) else (other, callback)
            raise ValueError(
                f"{base!r} is the base of {driver!r}, which drives it; remove it from Trainer(callbacks=...)"
            )
        if shared:
            raise ValueError(
                f"{callback!r} and {other!r} both drive {describe_claims(shared)}; keep one (to reduce a schedule "
                "on plateau, pass it as ReduceLROnPlateau(base=...))"
            )
    for config in getattr(trainer, "lr_scheduler_configs", []):
        scheduler = config.scheduler
        index = next((i for i, o in enumerate(trainer.optimizers) if o is getattr(scheduler, "optimizer", None)), None)
        if index is None:
            continue
        optimizer = trainer.optimizers[index]
        keys = ["lr"]
        if getattr(scheduler, "cycle_momentum", False):
            keys.append("momentum")
        theirs = {
            ("param_group", index, i, "betas[0]" if k == "momentum" and "betas" in g and "momentum" not in g else k)
            for k in keys
            for i, g in enumerate(optimizer.param_groups)
        }
        shared = mine & theirs
        if shared:
            raise ValueError(
                f"{callback!r} and the {type(scheduler).__name__} returned by configure_optimizers both drive "
                f"{describe_claims(shared)}; remove one of them"
            )


def _check_backbone_finetuning(
    callback: SchedulerCallback, trainer: pl.Trainer, finetuning: BackboneFinetuning
) -> None:
    """BackboneFinetuning writes the lr of the group it adds to the first optimizer, every epoch."""
    for binding in callback._bindings():
        target = binding.target
        if (
            isinstance(target, ParamGroup)
            and target.key == "lr"
            and target.param_group_index is None
            and target.optimizer_index(trainer.optimizers) == 0
        ):
            raise ValueError(
                f"{callback!r} drives the lr of every param group of the first optimizer, and BackboneFinetuning "
                f"sets the lr of the backbone group it adds there (from epoch "
                f"{finetuning.unfreeze_backbone_at_epoch}, derived from group 0's lr each epoch): both would "
                "write it. Pass param_group_index=0 (or the head group's name, its 'name' entry) to schedule the "
                "head's lr (BackboneFinetuning follows it), or use BaseFinetuning, whose added groups this callback "
                "schedules."
            )


def describe_claims(shared: set[tuple[Any, ...]]) -> str:
    """Claims in words, for messages."""
    parts = []
    for claim in sorted(shared, key=str):
        if claim[0] == "attribute":
            parts.append(f"attribute {claim[1]!r}")
        else:
            parts.append(f"{claim[3]} of optimizer {claim[1]} param group {claim[2]}")
    return ", ".join(parts)


def monitored_labels(trainer: pl.Trainer, actives: Sequence[Active]) -> frozenset[str]:
    """The labels a ``LearningRateMonitor`` logs itself: one series per name.

    Its names are ours for a param-group target without ``name=`` (``lr-SGD``,
    ``lr-SGD-momentum`` with ``log_momentum``, ``...-weight_decay`` with ``log_weight_decay``)
    and it reads the value the callback wrote, so nothing is lost.
    """
    monitors = [c for c in trainer.callbacks if isinstance(c, LearningRateMonitor)]  # type: ignore[attr-defined]
    logged = {"lr"} if monitors else set()
    if any(m.log_momentum for m in monitors):
        logged.add("momentum")
    if any(m.log_weight_decay for m in monitors):
        logged.add("weight_decay")
    return frozenset(
        label
        for active in actives
        if getattr(active.bound, "monitored", None) in logged
        for label in active.bound.labels
    )


def swa_start(trainer: pl.Trainer, callback: SchedulerCallback) -> int | None:
    """The epoch from which a StochasticWeightAveraging callback takes over the lr this callback writes, if any."""
    start = None
    for other in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(other, StochasticWeightAveraging):
            start = int(other.swa_start)
            break
    if start is None:
        return None
    drives = any(c[0] == "param_group" and c[1] == 0 and c[3] == "lr" for c in claims(callback, trainer.optimizers))
    return start if drives else None


def without_swa_lr(actives: list[Active]) -> list[Active]:
    """``actives`` less the first optimizer's lr, which StochasticWeightAveraging drives."""
    return [
        a
        for a in actives
        if not (isinstance(a.bound, BoundParamGroups) and a.bound.optimizer_index == 0 and a.bound.key == "lr")
    ]
