"""Durations, kept at their first import path: :mod:`lightning_schedulers.schedules.durations` holds them."""

from lightning_schedulers.schedules.durations import *  # noqa: F403
from lightning_schedulers.schedules.durations import __all__ as __all__
