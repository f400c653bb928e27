"""Run by test_ddp.py in a subprocess: a 2-process CPU fit (gloo) with several scheduler callbacks.

Each rank writes what it applied at every batch start and every ``log_metrics`` call it made to
``OUT/rank{r}.json``. Usage: ``python tests/ddp_run.py OUT {ddp|ddp_spawn}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

sys.path.insert(0, str(Path(__file__).parent))

from _helpers import RecordingLogger, ScriptedModule, close_process_group

import lightning_schedulers as ls


class Record(pl.Callback):
    def __init__(self, out: str) -> None:
        self.out = out
        self.rows: list[Any] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        groups = trainer.optimizers[0].param_groups
        self.rows.append(
            [
                trainer.global_step,
                [g["lr"] for g in groups],
                [g["momentum"] for g in groups],
                [g["weight_decay"] for g in groups],
                pl_module.kl_weight,
            ]
        )

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        logger = trainer.loggers[0]
        # The scheduling series only (Lightning logs its own too).
        scheduled = [
            (step, {k: v for k, v in m.items() if k.startswith(("lr", "mom", "kl"))}) for step, m in logger.rows
        ]  # type: ignore[attr-defined]
        calls = [c for c in scheduled if c[1]]
        payload = {"rows": self.rows, "log_calls": calls, "world_size": trainer.world_size}
        Path(self.out, f"rank{trainer.global_rank}.json").write_text(json.dumps(payload))

    def teardown(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        close_process_group()


class KLModule(ScriptedModule):
    def __init__(self) -> None:
        super().__init__(
            [5.0, 4.0, 4.5, 4.6, 4.7, 4.8],
            per_validation=4,
            rank_offset=-10.0,
            groups=2,
            optimizer_kwargs={"momentum": 0.9, "weight_decay": 0.01},
        )
        self.kl_weight = 0.0


def main() -> None:
    out, strategy = sys.argv[1], sys.argv[2]
    callbacks = [
        ls.OneCycleLR(max_lr=[0.5, 1.0]),
        ls.ExpStateScheduler(1.0, 0.9, "kl_weight"),
        ls.ReduceLROnPlateau(
            "val_loss",
            factor=0.5,
            patience=0,
            param_name="weight_decay",
            base=ls.CosineAnnealingScheduler("weight_decay", 0.01, 0.001, 6),
        ),
        Record(out),
    ]
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy=strategy,
        max_epochs=3,
        val_check_interval=0.5,
        callbacks=callbacks,
        logger=RecordingLogger(),
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(KLModule())


if __name__ == "__main__":
    main()
