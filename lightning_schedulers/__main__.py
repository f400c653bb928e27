"""Command line: ``python -m lightning_schedulers preview CONFIG.yaml --out schedule.png``.

The YAML file uses LightningCLI's form: ``trainer.callbacks`` is a list of ``class_path`` /
``init_args`` entries (callbacks from other packages are skipped), and ``trainer.max_epochs``,
``max_steps``, ``accumulate_grad_batches`` and ``devices`` describe the fit. The length of the
training dataloader is not in a LightningCLI file: give ``--batches-per-epoch`` (or a
``preview: {batches_per_epoch: N, initial: LR}`` section).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Lightning, torch and yaml are imported by the command that needs them, so `--help` answers at once.


def instantiate(spec: Any) -> Any:
    """Build ``{class_path, init_args}`` entries (recursively) as LightningCLI does."""
    if isinstance(spec, list):
        return [instantiate(item) for item in spec]
    if isinstance(spec, dict) and "class_path" in spec:
        module_name, _, attribute = str(spec["class_path"]).rpartition(".")
        cls = getattr(importlib.import_module(module_name), attribute)
        kwargs = {key: instantiate(value) for key, value in (spec.get("init_args") or {}).items()}
        return cls(**kwargs)
    if isinstance(spec, dict):
        return {key: instantiate(value) for key, value in spec.items()}
    return spec


def _devices(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1  # "auto" on a CPU machine


def run_preview(argv: Sequence[str]) -> int:
    """Run the ``preview`` command: print a table of values at milestones, optionally write a PNG."""
    parser = argparse.ArgumentParser(prog="python -m lightning_schedulers preview", description=__doc__)
    parser.add_argument("config", type=Path, help="a LightningCLI-style YAML file")
    parser.add_argument("--out", type=Path, default=None, help="write a PNG plot of every scheduled value")
    parser.add_argument("--batches-per-epoch", type=int, default=None, help="training batches per epoch")
    parser.add_argument("--initial", type=float, default=None, help="the lr from configure_optimizers")
    args = parser.parse_args(argv)
    import yaml

    from lightning_schedulers.previews import FitPlan, preview

    config = yaml.safe_load(args.config.read_text()) or {}
    trainer = config.get("trainer") or {}
    options = config.get("preview") or {}
    batches = args.batches_per_epoch or options.get("batches_per_epoch")
    if batches is None:
        parser.error("give --batches-per-epoch (or preview.batches_per_epoch in the file)")
    initial = (
        args.initial if args.initial is not None else options.get("initial", (config.get("model") or {}).get("lr", 1.0))
    )
    specs = trainer.get("callbacks") or []
    ours = [s for s in specs if isinstance(s, dict) and str(s.get("class_path", "")).startswith("lightning_schedulers")]
    skipped = [s.get("class_path", s) if isinstance(s, dict) else s for s in specs if s not in ours]
    plan = FitPlan(
        max_epochs=trainer.get("max_epochs", 1000 if trainer.get("max_steps", -1) == -1 else None),
        max_steps=trainer.get("max_steps", -1),
        batches_per_epoch=int(batches),
        accumulate_grad_batches=trainer.get("accumulate_grad_batches", 1),
        devices=_devices(trainer.get("devices", 1)),
    )
    result = preview(instantiate(ours), plan, initial=initial)
    print(
        f"{args.config}: {plan.total_steps} optimizer steps ({plan.steps_per_epoch} per epoch), initial value {initial}"
    )
    if skipped:
        print(f"skipped (not scheduler callbacks): {skipped}")
    print(result.table())
    if args.out is not None:
        result.plot(args.out)
        print(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lightning_schedulers``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "preview":
        return run_preview(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m lightning_schedulers", description=__doc__)
    parser.add_argument("command", choices=["preview"], help="preview CONFIG.yaml: the values a fit would apply")
    parser.parse_args(argv)  # --help exits 0; a missing or unknown command exits 2 with the usage
    return 2


if __name__ == "__main__":
    sys.exit(main())
