"""Run by test_batch_size_ramp.py in a subprocess: BatchSizeRamp under DDP on CPU (2 processes, gloo).

Two fits in the same processes, each ramping on the sample clock: one whose ``count`` is a function
that weighs each rank's batches differently (its counts must be added across ranks), one whose
``count`` is an int (no collective needed). Each rank writes, per fit, the micro-batches of every
optimizer step, the accumulation Lightning used, and the ``all_reduce`` calls made during the
fit's batches, to ``OUT/{fit}_rank{r}.json``. Usage: ``python tests/ramp_ddp_run.py OUT``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import TinyModule, close_process_group, make_trainer

from lightning_schedulers.callbacks.ramp import BatchSizeRamp

SCHEDULING = {0: 1, 12: 2, 36: 4}  # samples consumed (both ranks) -> accumulation


def rank_weighted(batch: Any) -> int:
    """Rank 0 counts each sample once, rank 1 twice: the ranks' counts differ, their sum is 6 a micro-batch."""
    return int(batch[0].shape[0]) * (1 + torch.distributed.get_rank())


class Record(pl.Callback):
    def __init__(self, out: str, name: str) -> None:
        self.out, self.name = out, name
        self.batches: list[int] = []
        self.accumulate: list[int] = []
        self.collectives = 0
        self._window = 0
        self._original: Any = None

    def _counting(self, *args: Any, **kwargs: Any) -> Any:
        self.collectives += 1
        return self._original(*args, **kwargs)

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._original = torch.distributed.all_reduce
        torch.distributed.all_reduce = self._counting

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._window += 1

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        self.batches.append(self._window)
        self.accumulate.append(int(trainer.accumulate_grad_batches))
        self._window = 0

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        torch.distributed.all_reduce = self._original
        payload = {
            "batches": self.batches,
            "accumulate": self.accumulate,
            "collectives": self.collectives,
            "world_size": trainer.world_size,
            "steps": trainer.global_step,
        }
        Path(self.out, f"{self.name}_rank{trainer.global_rank}.json").write_text(json.dumps(payload))


def main() -> None:
    out = sys.argv[1]
    for name, count in (("function", rank_weighted), ("int", 3)):
        ramp = BatchSizeRamp(SCHEDULING, clock="samples", count=count)
        trainer = make_trainer([ramp, Record(out, name)], devices=2, strategy="ddp", max_epochs=2)
        # 32 samples in batches of 2: 8 batches per rank and epoch.
        trainer.fit(TinyModule(n_samples=32, batch_size=2))
    close_process_group()


if __name__ == "__main__":
    main()
