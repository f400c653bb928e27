"""When values are applied: the Lightning callbacks.

* :mod:`~lightning_schedulers.callbacks.base`: :class:`SchedulerCallback`, the clock, binding, logging,
  checkpoint state, ``simulate`` and ``plot``, written once for every callback.
* :mod:`~lightning_schedulers.callbacks.binding`: a target and its schedules, and their hot-path form.
* :mod:`~lightning_schedulers.callbacks.generic`: :class:`ScheduleCallback`, any schedule on any target.
* :mod:`~lightning_schedulers.callbacks.plateau`: reduction on a plateau of a logged metric.

The familiar classes of torch, ignite, optax and poutyne are in :mod:`lightning_schedulers.families`.
"""

from lightning_schedulers.callbacks.base import SchedulerCallback
from lightning_schedulers.callbacks.generic import ScheduleCallback
from lightning_schedulers.callbacks.plateau import ReduceAttributeOnPlateau, ReduceLROnPlateau

__all__ = ["ReduceAttributeOnPlateau", "ReduceLROnPlateau", "ScheduleCallback", "SchedulerCallback"]
