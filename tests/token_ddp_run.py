"""Run by test_token_clock.py in a subprocess: a 2-process CPU fit (gloo) counting tokens.

Each rank writes ``OUT/rank{r}.json``: (optimizer step, tokens of the batch on this rank, lr) at
every batch start, and the collectives the fit made during its training batches, by name.
Usage: ``python tests/token_ddp_run.py OUT {function|int}``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import close_process_group
from test_token_clock import TokenModule, UnitProbe, tokens_of

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear


class CountReduces(pl.Callback):
    """The collectives (torch.distributed's all_reduce, barrier, and the rest) this package makes in training batches.

    Lightning makes its own (data setup, a SIGTERM broadcast each batch): a call counts when the
    package's code is on the stack (Lightning's ``Strategy.reduce`` called from it counts too).
    """

    NAMES = ("all_reduce", "barrier", "broadcast", "all_gather", "all_gather_object", "broadcast_object_list")

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.training = False

    def on_train_batch_start(self, *args: Any) -> None:
        self.training = True

    def on_train_epoch_end(self, *args: Any) -> None:
        self.training = False

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        for name in self.NAMES:
            original = getattr(torch.distributed, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                if self.training and any(
                    "lightning_schedulers" in frame.filename for frame in traceback.extract_stack()
                ):
                    self.calls[_name] = self.calls.get(_name, 0) + 1
                return _original(*args, **kwargs)

            setattr(torch.distributed, name, counted)


class Write(pl.Callback):
    def __init__(self, out: str, probe: UnitProbe, reduces: CountReduces) -> None:
        self.out, self.probe, self.reduces = out, probe, reduces

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        payload = {"rows": self.probe.rows, "reduces": self.reduces.calls, "steps": trainer.global_step}
        Path(self.out, f"rank{trainer.global_rank}.json").write_text(json.dumps(payload))

    def teardown(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        close_process_group()


def main(out: str, mode: str) -> None:
    count: Any = tokens_of if mode == "function" else 16
    probe_units: Any = tokens_of if mode == "function" else (lambda b: 16)
    probe, reduces = UnitProbe(probe_units), CountReduces()
    callback = ls.ScheduleCallback(Linear(0.1, 0.0, 800), "lr", clock="tokens", count=count)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=2,
        accumulate_grad_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback, probe, reduces, Write(out, probe, reduces)],
    )
    trainer.fit(TokenModule(n_samples=40, batch_size=4))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
