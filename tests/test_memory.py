"""save_history=False keeps no per-step state: a long fit does not grow the callback."""

from __future__ import annotations

import pickle
import tracemalloc
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import lightning_schedulers as ls


def fake_trainer() -> Any:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": [p]} for p in params], lr=0.1, momentum=0.9)
    optimizers = [optimizer]
    return SimpleNamespace(
        optimizers=optimizers,
        strategy=SimpleNamespace(optimizers=optimizers),
        lightning_module=SimpleNamespace(automatic_optimization=True),
        # No progress counters: the callback reads trainer.global_step instead.
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace()),
        global_step=0,
        current_epoch=0,
        loggers=[],
        is_global_zero=True,
        log_every_n_steps=50,
        callbacks=[],
        lr_scheduler_configs=[],
        max_steps=-1,
        max_epochs=-1,
        is_last_batch=False,
        estimated_stepping_batches=10**9,
    )


def run(callback: Any, trainer: Any, start: int, stop: int) -> None:
    start_hook, end_hook = callback.on_train_batch_start, callback.on_train_batch_end
    for t in range(start, stop):
        start_hook(trainer, None, None, 0)
        trainer.global_step = t  # the optimizer stepped
        end_hook(trainer, None, None, None, 0)


def test_a_million_steps_do_not_grow_the_callback() -> None:
    callback = ls.OneCycleLR(max_lr=[0.5, 1.0], total_steps=2_000_000)  # lr and momentum, two groups
    trainer = fake_trainer()
    callback.on_train_start(trainer, None)
    run(callback, trainer, 1, 1_000)
    state = len(pickle.dumps(callback.state_dict()))
    tracemalloc.start()
    run(callback, trainer, 1_000, 51_000)
    first, _ = tracemalloc.get_traced_memory()
    run(callback, trainer, 51_000, 101_000)
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(second - first) < 16 * 1024  # no per-step state: a block is replaced, not kept
    run(callback, trainer, 101_000, 1_000_000)
    assert len(pickle.dumps(callback.state_dict())) == state
    assert callback.history == []
    applied = [g["lr"] for g in trainer.optimizers[0].param_groups]
    assert applied == callback.simulate(1_000_000, initial=[0.1, 0.1])[999_999, :2].tolist()


def test_save_history_keeps_one_row_per_write() -> None:
    callback = ls.StepLR(10, interval="step", save_history=True)
    trainer = fake_trainer()
    callback.on_train_start(trainer, None)
    run(callback, trainer, 1, 1_000)
    assert len(callback.history) == 1_000


class Recorder:
    """A logger stand-in that keeps what it was given."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((step, dict(metrics)))


def test_the_hot_path_writes_and_logs_every_step_across_block_refills() -> None:
    # 10,000 steps cross several blocks (refilled on the way), the log cadence and the end of the
    # schedule; every step's value must be the schedule's, every 50th step logged with it.
    callback = ls.OneCycleLR(max_lr=[0.5, 1.0], total_steps=9_000)
    trainer, logger = fake_trainer(), Recorder()
    trainer.loggers = [logger]
    expected = callback.simulate(10_000, initial=[0.1, 0.1])
    callback.on_train_start(trainer, None)
    start_hook, end_hook = callback.on_train_batch_start, callback.on_train_batch_end
    groups = trainer.optimizers[0].param_groups
    for t in range(1, 10_000):
        start_hook(trainer, None, None, 0)
        trainer.global_step = t
        if t == 9_000:
            with pytest.warns(UserWarning, match="step 9000 is past the end of the schedule"):
                end_hook(trainer, None, None, None, 0)
        else:
            end_hook(trainer, None, None, None, 0)
        applied = [g["lr"] for g in groups] + [g["momentum"] for g in groups]
        assert applied == expected[t].tolist(), t
    assert [step for step, _ in logger.rows] == list(range(0, 10_000, 50))
    for step, metrics in logger.rows:
        assert list(metrics.values()) == expected[step].tolist()
