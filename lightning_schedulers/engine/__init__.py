"""The scheduling engine: it knows no Trainer.

* :mod:`~lightning_schedulers.engine.clocks`: what an event is and how it is counted.
* :mod:`~lightning_schedulers.engine.bindings`: a target and its schedules; their precomputed blocks.
* :mod:`~lightning_schedulers.engine.writer`: :class:`Engine`, which writes an event's values.
* :mod:`~lightning_schedulers.engine.run`: :class:`Run`, one fit of one callback, and the
  :class:`Host` interface its loop implements (the Trainer in :mod:`lightning_schedulers.lightning`,
  a hand-written loop in :mod:`lightning_schedulers.loops`).
* :mod:`~lightning_schedulers.engine.state`: checkpoint records.
"""

from lightning_schedulers.engine.run import Host, Run
from lightning_schedulers.engine.writer import Engine

__all__ = ["Engine", "Host", "Run"]
