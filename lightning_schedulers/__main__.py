"""Command line: ``python -m lightning_schedulers preview CONFIG.yaml --out schedule.png``.

The YAML file uses LightningCLI's form: ``trainer.callbacks`` is a list of ``class_path`` /
``init_args`` entries (callbacks from other packages are skipped), and ``trainer.max_epochs``,
``max_steps``, ``accumulate_grad_batches`` and ``devices`` describe the fit. The length of the
training dataloader is not in a LightningCLI file: where the preview needs it (to count the optimizer
steps of a fit bounded by epochs), give ``--batches-per-epoch`` (or a ``preview: {batches_per_epoch:
N, initial: LR}`` section). A fit bounded by ``max_steps`` alone with step-interval callbacks needs
no length; one bounded by ``max_epochs`` alone with epoch-interval callbacks is shown an epoch per
column. A file may also hold one callback (``class_path`` / ``init_args`` at the top) or a list of
them; give the fit's length with ``--max-epochs`` or ``--max-steps`` then (they override the
file's). A file that cannot be used (no scheduler callback in it, a class that does not import, bad
arguments), or ``--out`` without matplotlib, is an error (the usage, then one line) with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Lightning, torch and yaml are imported by the command that needs them, so `--help` answers at once.


class ConfigError(Exception):
    """A config file the preview cannot use; the command line prints it and exits with status 2."""


def resolve_class(class_path: Any) -> type:
    """The class a ``class_path`` names, or a :class:`ConfigError` saying what is wrong."""
    module_name, _, attribute = str(class_path).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name or attribute), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"class_path {class_path!r} does not name a class that can be imported ({error})") from None
    if not isinstance(cls, type):
        raise ConfigError(f"class_path {class_path!r} names {cls!r}, not a class")
    return cls


def instantiate(spec: Any) -> Any:
    """Build ``{class_path, init_args}`` entries (recursively) as LightningCLI does."""
    if isinstance(spec, list):
        return [instantiate(item) for item in spec]
    if isinstance(spec, dict) and "class_path" in spec:
        cls = resolve_class(spec["class_path"])
        kwargs = {key: instantiate(value) for key, value in (spec.get("init_args") or {}).items()}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{spec['class_path']}: {error}") from None
    if isinstance(spec, dict):
        return {key: instantiate(value) for key, value in spec.items()}
    return spec


def _scheduler_specs(config: Any) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """The trainer settings, the scheduler callbacks' specs and the skipped entries of a config.

    A config is LightningCLI's (``trainer.callbacks``), or one callback (``class_path`` /
    ``init_args`` at the top), or a list of callbacks.
    """
    from lightning_schedulers.callbacks.base import SchedulerCallback

    if isinstance(config, dict) and "class_path" in config:
        trainer: dict[str, Any] = {}
        specs: list[Any] = [config]
    elif isinstance(config, list):
        trainer, specs = {}, config
    elif isinstance(config, dict):
        trainer = config.get("trainer") or {}
        if not isinstance(trainer, dict):
            raise ConfigError(f"`trainer` must be a mapping of Trainer settings, got {trainer!r}")
        specs = trainer.get("callbacks") or []
        if isinstance(specs, dict):
            specs = [specs]
    else:
        raise ConfigError(f"expected a LightningCLI config (a mapping) or callbacks, got {config!r}")
    ours, skipped = [], []
    for spec in specs:
        path = spec.get("class_path") if isinstance(spec, dict) else None
        if path is None:
            skipped.append(spec)
        elif str(path).startswith("lightning_schedulers"):
            ours.append(spec)
        else:
            try:  # a user's subclass is previewed; another package's callback, importable or not, is skipped
                mine = issubclass(resolve_class(path), SchedulerCallback)
            except ConfigError:
                mine = False
            (ours if mine else skipped).append(spec if mine else path)
    return trainer, ours, skipped


def _accumulation(trainer: dict[str, Any]) -> Any:
    """``accumulate_grad_batches``, or the scheduling of a ``GradientAccumulationScheduler`` callback."""
    specs = trainer.get("callbacks") or []
    for spec in specs if isinstance(specs, list) else [specs]:
        if isinstance(spec, dict) and str(spec.get("class_path", "")).endswith("GradientAccumulationScheduler"):
            scheduling = (spec.get("init_args") or {}).get("scheduling")
            if not isinstance(scheduling, dict):
                raise ConfigError(f"GradientAccumulationScheduler needs init_args.scheduling, got {spec!r}")
            return {int(epoch): batches for epoch, batches in scheduling.items()}
    return trainer.get("accumulate_grad_batches", 1)


def _devices(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1  # "auto" on a CPU machine


def _optimizers_of(class_path: str | None, model: Any) -> list[Any] | None:
    """The optimizers the model's ``configure_optimizers`` returns (``None`` without a model class)."""
    import torch

    settings = model if isinstance(model, dict) else {}
    path = class_path or settings.get("class_path")
    if path is None:
        return None
    init_args = settings.get("init_args", {k: v for k, v in settings.items() if k != "class_path"})
    try:
        module = resolve_class(path)(**(init_args or {}))
        returned = module.configure_optimizers()
    except ConfigError:
        raise
    except Exception as error:  # the user's code: say what failed, in its words
        raise ConfigError(f"building {path} and calling configure_optimizers() failed: {error!r}") from None
    if isinstance(returned, dict):
        returned = returned.get("optimizer")
    elif isinstance(returned, tuple) and returned and isinstance(returned[0], (list, tuple)):
        returned = returned[0]  # (optimizers, schedulers)
    items = returned if isinstance(returned, (list, tuple)) else [returned]
    items = [item["optimizer"] if isinstance(item, dict) else item for item in items]
    if not items or not all(isinstance(o, torch.optim.Optimizer) for o in items):
        raise ConfigError(f"{path}.configure_optimizers() returned {returned!r}, not optimizers")
    return items


def _without_batches(callbacks: list[Any], max_epochs: int | None, max_steps: int) -> tuple[int, bool]:
    """A ``batches_per_epoch`` for a preview whose values do not depend on it, and whether it counts epochs.

    The training dataloader's length matters only to turn epochs into optimizer steps. A fit bounded
    by ``max_steps`` alone, with callbacks on the step interval, needs no such conversion; nor does
    one bounded by ``max_epochs`` alone with callbacks on the epoch interval, previewed an epoch
    per column. Otherwise a :class:`ConfigError` asks for the length.
    """
    from lightning_schedulers.callbacks.base import SchedulerCallback

    intervals = {cb.interval for cb in callbacks if isinstance(cb, SchedulerCallback)}
    epochs_bound = max_epochs is not None and max_epochs != -1
    if intervals <= {"step"} and not epochs_bound and max_steps != -1:
        return 1, False
    if intervals <= {"epoch"} and epochs_bound and max_steps == -1:
        return 1, True
    raise ConfigError(
        "give --batches-per-epoch (or preview.batches_per_epoch in the file): the preview counts optimizer "
        f"steps, and with max_epochs={max_epochs}, max_steps={max_steps} and callbacks on the "
        f"{' and '.join(sorted(intervals))} interval their number depends on the training dataloader's length"
    )


def run_preview(argv: Sequence[str]) -> int:
    """Run the ``preview`` command: print a table of values at milestones, optionally write a PNG."""
    parser = argparse.ArgumentParser(prog="python -m lightning_schedulers preview", description=__doc__)
    parser.add_argument("config", type=Path, help="a LightningCLI-style YAML file")
    parser.add_argument("--out", type=Path, default=None, help="write a PNG plot of every scheduled value")
    parser.add_argument("--batches-per-epoch", type=int, default=None, help="training batches per epoch")
    parser.add_argument("--initial", type=float, default=None, help="the lr from configure_optimizers")
    parser.add_argument(
        "--model",
        default=None,
        help="the LightningModule class (module.Class, built with the file's model settings) whose "
        "configure_optimizers gives the optimizers: the labels and start values are then the fit's",
    )
    parser.add_argument("--max-epochs", type=int, default=None, help="the fit's epochs (overrides trainer.max_epochs)")
    parser.add_argument("--max-steps", type=int, default=None, help="the fit's steps (overrides trainer.max_steps)")
    parser.add_argument(
        "--samples-per-step", type=int, default=None, help="samples an optimizer step consumes (clock='samples')"
    )
    parser.add_argument(
        "--tokens-per-step", type=int, default=None, help="tokens an optimizer step consumes (clock='tokens')"
    )
    args = parser.parse_args(argv)
    import yaml

    from lightning_schedulers.previews import FitPlan, preview

    try:
        config = yaml.safe_load(args.config.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        parser.error(f"cannot read {args.config}: {error}")
    try:
        trainer, ours, skipped = _scheduler_specs(config)
    except ConfigError as error:
        parser.error(f"{args.config}: {error}")
    if not ours:
        parser.error(
            f"{args.config} holds no scheduler callback of lightning_schedulers to preview (looked for "
            f"`trainer.callbacks`, or a callback's class_path/init_args at the top); skipped: {skipped}"
        )
    if args.out is not None:  # say so now, not after the work, and in one line as the other failures
        from lightning_schedulers._plotting import require_pyplot

        try:
            require_pyplot()
        except ImportError as error:
            parser.error(f"--out {args.out}: {error}")
    options = (config.get("preview") if isinstance(config, dict) else None) or {}
    batches = args.batches_per_epoch or options.get("batches_per_epoch")
    model = (config.get("model") if isinstance(config, dict) else None) or {}
    try:
        optimizers = _optimizers_of(args.model, model)
    except ConfigError as error:
        parser.error(f"{args.config}: {error}")
    if optimizers is not None and args.initial is None:
        initial = None  # the optimizers' own values
    else:
        fallback = model.get("init_args", model).get("lr", 1.0) if isinstance(model, dict) else 1.0
        initial = args.initial if args.initial is not None else options.get("initial", fallback)
    trainer = dict(trainer)
    if args.max_epochs is not None:
        trainer["max_epochs"] = args.max_epochs
    if args.max_steps is not None:
        trainer["max_steps"] = args.max_steps
        trainer.setdefault("max_epochs", None)
    by_epoch = False  # one column per epoch: a preview of epoch-interval callbacks without the loader's length
    try:
        callbacks = instantiate(ours)
        max_epochs = trainer.get("max_epochs", 1000 if trainer.get("max_steps", -1) == -1 else None)
        max_steps = trainer.get("max_steps", -1)
        if batches is None:
            batches, by_epoch = _without_batches(callbacks, max_epochs, max_steps)
        from lightning_schedulers.callbacks.ramp import BatchSizeRamp

        ramp = next((c for c in callbacks if isinstance(c, BatchSizeRamp)), None)
        plan = FitPlan(
            max_epochs=max_epochs,
            max_steps=max_steps,
            batches_per_epoch=int(batches),
            accumulate_grad_batches=1 if by_epoch or ramp is not None else _accumulation(trainer),
            devices=1 if by_epoch else _devices(trainer.get("devices", 1)),
            samples_per_step=args.samples_per_step or options.get("samples_per_step"),
            tokens_per_step=args.tokens_per_step or options.get("tokens_per_step"),
            batch_size_ramp=None if by_epoch else ramp,
        )
    except (ConfigError, TypeError, ValueError) as error:
        parser.error(f"{args.config}: {error}")
    try:
        result = preview(callbacks, plan, initial=initial, optimizers=optimizers)
    except (TypeError, ValueError) as error:
        parser.error(f"{args.config}: {error}")
    if by_epoch:
        length = f"{plan.total_steps} epochs (the columns count epochs; --batches-per-epoch gives optimizer steps)"
    elif args.batches_per_epoch is None and options.get("batches_per_epoch") is None:
        length = f"{plan.total_steps} optimizer steps"
    elif plan.batch_size_ramp is not None:
        length = f"{plan.total_steps} optimizer steps (accumulation ramped by {plan.batch_size_ramp!r})"
    elif isinstance(plan.accumulate_grad_batches, dict):
        length = f"{plan.total_steps} optimizer steps (accumulation by epoch {plan.accumulate_grad_batches})"
    else:
        length = f"{plan.total_steps} optimizer steps ({plan.steps_per_epoch} per epoch)"
    print(f"{args.config}: {length}, initial value {'from configure_optimizers' if initial is None else initial}")
    if skipped:
        print(f"skipped (not scheduler callbacks): {skipped}")
    print(result.table())
    if args.out is not None:
        try:
            result.plot(args.out)
        except (OSError, ValueError) as error:  # a folder that does not exist, a format matplotlib lacks
            parser.error(f"--out {args.out}: {error}")
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
