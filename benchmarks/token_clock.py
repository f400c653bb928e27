"""In-situ cost of ``clock="tokens"`` against ``clock="optimizer"``: time inside the hooks of a real fit.

Three contenders drive the same cosine on ``lr`` (``ScheduleCallback``), interleaved round by round
in one process, with the timing wrapper of ``benchmarks/in_situ.py`` around every per-batch hook:

* **optimizer clock**: ``clock="optimizer"`` (the default);
* **tokens, int count**: ``clock="tokens", count=128`` (every batch holds the same);
* **tokens, function count**: ``clock="tokens", count=lambda batch: int(batch[2].sum())``, the
  tokens of a batch of padded sequences (the user's function is in the number; a callback that
  only calls it, timed the same way, gives its share).

Batches are ``(x, y, tokens)`` of size 1; ``accumulate_grad_batches=1``. A second table subtracts
the wrapper's own cost (measured on empty callbacks with one and two timed hooks).
Run: ``python benchmarks/token_clock.py [--batches 5000 --rounds 5]``.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import tempfile
import warnings
from typing import Any

import lightning
import lightning.pytorch as pl
import torch
from in_situ import HOOKS, Clock, Empty1, Empty2
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.schedules import Cosine

warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

KINDS = (
    "optimizer clock",
    "tokens, int count",
    "tokens, function count",
    "the count function alone",
    "empty, 1 hook",
    "empty, 2 hooks",
)


class Tokens(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def tokens_of(batch: Any) -> int:
    return int(batch[2].sum())


class CountOnly(pl.Callback):
    """Calls the count function once a batch and nothing else: the user's share of the function count's cost."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        tokens_of(batch)


def fit(kind: str, batches: int) -> float:
    """Microseconds per batch inside the contender's per-batch hooks during one fit."""
    x, y = torch.randn(batches, 4), torch.randn(batches, 1)
    tokens = torch.full((batches,), 128)
    callback: pl.Callback
    if kind == "optimizer clock":
        callback = ls.ScheduleCallback(Cosine(0.1, 0.001, batches), "lr")
    elif kind == "tokens, int count":
        callback = ls.ScheduleCallback(Cosine(0.1, 0.001, 128 * batches), "lr", clock="tokens", count=128)
    elif kind == "tokens, function count":
        callback = ls.ScheduleCallback(Cosine(0.1, 0.001, 128 * batches), "lr", clock="tokens", count=tokens_of)
    elif kind == "the count function alone":
        callback = CountOnly()
    elif kind == "empty, 1 hook":
        callback = Empty1()
    else:
        callback = Empty2()
    clock = Clock()
    for hook in HOOKS:
        if getattr(type(callback), hook) is not getattr(pl.Callback, hook):
            clock.wrap(callback, hook)
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=1,
            callbacks=[callback],
            logger=CSVLogger(folder),
            log_every_n_steps=50,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(Tokens(), DataLoader(TensorDataset(x, y, tokens), batch_size=1))
    return clock.ns / 1e3 / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fit("optimizer clock", 200)  # warm-up: imports, first-fit setup
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for _ in range(args.rounds):
        for kind in KINDS:
            times[kind].append(fit(kind, args.batches))
    median = {k: statistics.median(v) for k, v in times.items()}
    wrapper_1, wrapper_2 = median["empty, 1 hook"], median["empty, 2 hooks"]
    per_hook = wrapper_2 - wrapper_1
    print(f"lightning {lightning.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"{args.batches} batches, {args.rounds} rounds interleaved; microseconds per batch inside the hooks (median)")
    print(f"{'contender':28} {'raw':>8} {'vs optimizer':>13} {'net':>8} {'net vs optimizer':>17}")
    base_raw = median["optimizer clock"]
    base_net = base_raw - 2 * per_hook
    for kind in KINDS[:3]:
        raw = median[kind]
        net = raw - 2 * per_hook  # two timed per-batch hooks each
        print(f"{kind:28} {raw:8.2f} {raw / base_raw:12.2f}x {net:8.2f} {net / base_net:16.2f}x")
    user = median["the count function alone"] - wrapper_1
    ours = median["tokens, function count"] - 2 * per_hook - user
    print(
        f"the count function alone: {user:.2f} us a batch; the function count net of it: {ours:.2f} us "
        f"({ours / base_net:.2f}x the optimizer clock)"
    )
    print(f"timing wrapper: {per_hook:.2f} us per timed hook")


if __name__ == "__main__":
    main()
