"""The Trainer adapter: what a run asks of a Lightning fit.

* :mod:`~lightning_schedulers.lightning.host`: :class:`TrainerHost`, one fit of one callback.
* :mod:`~lightning_schedulers.lightning.clocks`: which of Lightning's loop counters a clock reads.
* :mod:`~lightning_schedulers.lightning.lengths`: the fit's length in epochs, steps or batches.
* :mod:`~lightning_schedulers.lightning.guards`: other callbacks and schedulers on the same targets.
* :mod:`~lightning_schedulers.lightning.decisions`: when plateau decisions happen in a fit.

The hooks themselves are the callbacks' (:class:`~lightning_schedulers.SchedulerCallback`).
"""
