"""MkDocs hook: draw the gallery when the site is built, from the package's own ``plot``.

Nothing is committed: each image is made from the code of the build, so it cannot go stale.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch

import lightning_schedulers as ls
from lightning_schedulers import presets

#: (file name, title, callback, events): one per family class and preset.
ENTRIES: list[tuple[str, str, Any, int]] = [
    ("steplr", "StepLR(step_size=30, gamma=0.5)", ls.StepLR(30, 0.5), 120),
    ("multisteplr", "MultiStepLR([30, 80], 0.1)", ls.MultiStepLR([30, 80], 0.1), 120),
    ("exponentiallr", "ExponentialLR(0.97)", ls.ExponentialLR(0.97), 120),
    ("linearlr", "LinearLR(0.1, total_iters=40)", ls.LinearLR(0.1, total_iters=40), 120),
    ("cosineannealinglr", "CosineAnnealingLR(T_max=60)", ls.CosineAnnealingLR(60), 120),
    ("warmrestarts", "CosineAnnealingWarmRestarts(T_0=10, T_mult=2)", ls.CosineAnnealingWarmRestarts(10, 2), 150),
    (
        "cycliclr",
        "CyclicLR(0.01, 0.1, step_size_up=20, mode='triangular2')",
        ls.CyclicLR(0.01, 0.1, step_size_up=20, mode="triangular2"),
        200,
    ),
    ("onecyclelr", "OneCycleLR(max_lr=1.0)", ls.OneCycleLR(1.0), 200),
    ("swalr", "SWALR(swa_lr=0.02, anneal_epochs=20)", ls.SWALR(0.02, 20), 60),
    (
        "chained",
        "ChainedScheduler([CosineAnnealingLR(40), ExponentialLR(0.99)])",
        ls.ChainedScheduler([ls.CosineAnnealingLR(40), ls.ExponentialLR(0.99)]),
        160,
    ),
    (
        "ignite_cosine",
        "ignite CosineAnnealingScheduler(cycle_size=40, cycle_mult=1.5)",
        ls.CosineAnnealingScheduler("lr", 1.0, 0.0, 40, cycle_mult=1.5),
        200,
    ),
    (
        "ignite_linear",
        "ignite LinearCyclicalScheduler(cycle_size=40)",
        ls.LinearCyclicalScheduler("lr", 0.0, 1.0, 40),
        120,
    ),
    (
        "ignite_warmup",
        "create_lr_scheduler_with_warmup(CosineAnnealingLR(100), 0, 20)",
        ls.create_lr_scheduler_with_warmup(ls.CosineAnnealingLR(100, interval="step"), 0.0, 20),
        120,
    ),
    (
        "optax",
        "ExponentialDecayLR(decay_steps=20, decay_rate=0.5, transition_begin=20)",
        ls.ExponentialDecayLR(decay_steps=20, decay_rate=0.5, transition_begin=20),
        120,
    ),
    (
        "poutyne_one_cycle",
        "OptimizerPolicy(one_cycle_phases(200))",
        ls.OptimizerPolicy(presets.one_cycle_phases(200)),
        200,
    ),
    ("poutyne_sgdr", "OptimizerPolicy(sgdr_phases(20, 3))", ls.OptimizerPolicy(presets.sgdr_phases(20, 3)), 140),
    ("warmup_cosine", "WarmupCosineLR(warmup_steps=0.1)", ls.WarmupCosineLR(warmup_steps=0.1), 200),
    (
        "wsd",
        "WarmupStableDecayLR(0.1, decay_steps=0.2, decay='1-sqrt')",
        ls.WarmupStableDecayLR(0.1, decay_steps=0.2, decay="1-sqrt"),
        200,
    ),
    ("inverse_sqrt", "InverseSqrtLR(warmup_steps=20)", ls.InverseSqrtLR(20), 200),
    (
        "polynomial",
        "PolynomialDecayLR(power=2.0, warmup_steps=20)",
        ls.PolynomialDecayLR(power=2.0, warmup_steps=20),
        200,
    ),
    (
        "timm_cycles",
        "CosineCyclesLR(40, cycle_decay=0.7, cycle_limit=4, warmup_steps=10)",
        ls.CosineCyclesLR(40, cycle_decay=0.7, cycle_limit=4, warmup_steps=10),
        200,
    ),
    (
        "hf_cosine_restarts",
        "get_scheduler('cosine_with_restarts', warmup_steps=10, num_cycles=3)",
        ls.get_scheduler("cosine_with_restarts", warmup_steps=10, scheduler_specific_kwargs={"num_cycles": 3}),
        200,
    ),
    (
        "torch_scheduler",
        "TorchScheduler(partial(PolynomialLR, total_iters=150, power=2))",
        ls.TorchScheduler(functools.partial(torch.optim.lr_scheduler.PolynomialLR, total_iters=150, power=2.0)),
        200,
    ),
    ("state_exp", "ExpStateScheduler(1.0, 0.97, 'kl_weight')", ls.ExpStateScheduler(1.0, 0.97, "kl_weight"), 120),
]


def _png(entry: tuple[str, str, Any, int]) -> bytes:
    _, title, callback, events = entry
    fig, ax = plt.subplots(figsize=(6, 2.4))
    callback.plot(events, ax=ax)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def _long_runs_tokens(ax: Any) -> None:
    """A WSD over 1e9 tokens, previewed per optimizer step for two batch sizes."""
    wsd = ls.WarmupStableDecayLR(
        warmup_steps=50_000_000, decay_steps=200_000_000, total_steps=1_000_000_000, clock="tokens", count=2048
    )
    for tokens_per_step in (256 * 2048, 512 * 2048):
        plan = ls.FitPlan(max_steps=2000, tokens_per_step=tokens_per_step)
        values = ls.preview([wsd], plan, initial=3e-4).values["WarmupStableDecayLR:lr-optimizer0"]
        ax.plot(values, label=f"{tokens_per_step // 2048} sequences of 2048 tokens a step")
    ax.set_xlabel("optimizer step")


def _long_runs_replan(ax: Any) -> None:
    """Training longer: a cosine planned for 1000 steps, resumed at 400 into a fit of 2000."""
    from lightning_schedulers.schedules import Cosine
    from lightning_schedulers.schedules.replan import replan

    old, new = Cosine(1.0, 0.0, 1000), Cosine(1.0, 0.0, 2000)
    joined, _ = replan(old, new, 400, 1000, 2000)
    ax.plot(old.values(range(2000)), ":", label="planned for 1000 steps")
    ax.plot(new.values(range(2000)), ":", label="planned for 2000 steps")
    ax.plot(range(400, 2000), joined.values(range(400, 2000)), label="resumed at 400 into 2000 (replan)")
    ax.set_xlabel("step")


def _long_runs_cooldowns(ax: Any) -> None:
    """Two cooldowns branched at step 600 from a stable run (simulate with resume_at)."""
    from lightning_schedulers.schedules import Constant, Linear, sequence

    def stable() -> Any:
        return ls.ScheduleCallback(sequence([Linear(0.0, 1.0, 100), Constant(1.0)], [100]))

    ax.plot(stable().simulate(1000), ":", label="stable run")
    for shape in ("linear", "1-sqrt"):
        branch = ls.Cooldown(stable(), start="resume", length=200, shape=shape)
        ax.plot(range(600, 1000), branch.simulate(1000, resume_at=600)[600:], label=f"cooldown from 600, {shape}")
    ax.set_xlabel("step")


#: The "Long runs" page's figures: (file name, title, drawing function).
LONG_RUNS: list[tuple[str, str, Any]] = [
    ("tokens", "WarmupStableDecayLR over 1e9 tokens, previewed per step", _long_runs_tokens),
    ("replan", "Training longer with on_resume='replan'", _long_runs_replan),
    ("cooldowns", "Cooldowns branched from one checkpoint", _long_runs_cooldowns),
]


def _figure(title: str, draw: Any) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 2.6))
    draw(ax)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def on_files(files: Any, config: Any) -> Any:
    """Add one generated PNG per entry, and the gallery page that shows them."""
    from mkdocs.structure.files import File

    lines = [
        "# Gallery",
        "",
        "Every family and preset, plotted with its own `plot()` when this site was built (an lr of 1.0",
        "at the start where a schedule is relative to it). Nothing here is a committed image.",
        "",
    ]
    for entry in ENTRIES:
        name, title = entry[0], entry[1]
        files.append(File.generated(config, f"gallery/{name}.png", content=_png(entry)))
        lines += [f"## {title}", "", f"![{title}](gallery/{name}.png)", ""]
    files.append(File.generated(config, "gallery.md", content="\n".join(lines)))
    for name, title, draw in LONG_RUNS:  # shown by docs/long-runs.md
        files.append(File.generated(config, f"long-runs/{name}.png", content=_figure(title, draw)))
    return files
