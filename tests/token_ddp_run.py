"""Run by test_token_clock.py in a subprocess: a 2-process CPU fit (gloo) counting tokens.

Each rank writes ``OUT/rank{r}.json``: (optimizer step, tokens of the batch on this rank, lr) at
every batch start, and the number of ``strategy.reduce`` calls the fit made.
Usage: ``python tests/token_ddp_run.py OUT {function|int}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import close_process_group
from test_token_clock import TokenModule, UnitProbe, tokens_of

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear


class CountReduces(pl.Callback):
    def __init__(self) -> None:
        self.calls = 0
        self.training = False

    def on_train_batch_start(self, *args: Any) -> None:
        self.training = True

    def on_train_epoch_end(self, *args: Any) -> None:
        self.training = False

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        strategy = trainer.strategy
        original = strategy.reduce

        def counted(*args: Any, **kwargs: Any) -> Any:
            # Lightning reduces its own (data setup, boolean decisions): count those during training batches.
            if self.training:
                self.calls += 1
            return original(*args, **kwargs)

        strategy.reduce = counted  # type: ignore[method-assign]


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
