"""Per-step cost of the callback's hook work against torch's ``scheduler.step()``.

Both sides drive the same cosine schedule on the same kind of optimizer (3 param groups). The
rounds are interleaved in one process and reported as medians and ratios, so machine noise hits
both sides alike. Run: ``python benchmarks/bench_hot_path.py [--steps 20000 --rounds 15]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from types import SimpleNamespace
from typing import Any

import torch

from lightning_schedulers import ParamGroup, ScheduleCallback
from lightning_schedulers.schedules import Cosine

warnings.filterwarnings("ignore", r".*lr_scheduler.step\(\)` before `optimizer.step\(\)`.*")


def _optimizer() -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    return torch.optim.SGD([{"params": [p]} for p in params], lr=0.1)


def torch_round(steps: int) -> float:
    opt = _optimizer()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.001)
    start = time.perf_counter()
    for _ in range(steps):
        sched.step()
    return (time.perf_counter() - start) / steps


def callback_round(steps: int) -> float:
    opt = _optimizer()
    cb = ScheduleCallback(Cosine(1.0, 0.01, steps), target=ParamGroup("lr", relative=True), logging_enabled=False)
    # A stand-in trainer: the hook reads global_step, optimizers and the logging settings only.
    trainer: Any = SimpleNamespace(
        optimizers=[opt], global_step=0, current_epoch=0, loggers=[], is_global_zero=True, log_every_n_steps=50
    )
    cb.on_train_start(trainer, None)  # type: ignore[arg-type]
    start = time.perf_counter()
    for t in range(1, steps + 1):
        trainer.global_step = t
        cb.on_train_batch_start(trainer, None, None, 0)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    torch_times, cb_times = [], []
    for _ in range(args.rounds):
        torch_times.append(torch_round(args.steps))
        cb_times.append(callback_round(args.steps))
    t_med, c_med = statistics.median(torch_times), statistics.median(cb_times)
    print(f"torch CosineAnnealingLR.step(): {t_med * 1e6:7.2f} us/step (median of {args.rounds})")
    print(f"ScheduleCallback hook:          {c_med * 1e6:7.2f} us/step (median of {args.rounds})")
    print(f"ratio callback / torch:         {c_med / t_med:7.2f}")


if __name__ == "__main__":
    main()
