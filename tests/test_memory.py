"""save_history=False keeps no per-step state: a long fit does not grow the callback."""

from __future__ import annotations

import pickle
import tracemalloc
from types import SimpleNamespace
from typing import Any

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
