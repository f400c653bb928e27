"""HF transformers' schedules: ``ls.get_scheduler`` against transformers' formulas, written out here.

transformers is not installed: each reference below is its ``lr_lambda`` (``transformers/optimization.py``)
written in plain Python, evaluated with ``math`` as transformers does.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, group_values, make_trainer

import lightning_schedulers as ls


def warm(t: int, w: int) -> float:
    return float(t) / float(max(1, w))


def hf_factor(name: str, t: int, w: int, total: int, **kw: Any) -> float:
    if name == "constant":
        return 1.0
    if name == "constant_with_warmup":
        return warm(t, w) if t < w else 1.0
    if name == "inverse_sqrt":
        timescale = kw.get("timescale") or w or 10_000
        return warm(t, w) if t < w else 1.0 / math.sqrt((t + timescale - w) / timescale)
    if name == "warmup_stable_decay":
        stable, decay, low = kw["stable"], kw["decay"], kw.get("min_lr_ratio", 0.0)
        wt, dt, cycles = kw.get("warmup_type", "linear"), kw.get("decay_type", "cosine"), kw.get("num_cycles", 0.5)
        if t < w:
            p = float(t) / float(max(1, w))
            f = {"linear": p, "cosine": 0.5 * (1.0 - math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(1.0 - p)}[wt]
            return max(0.0, f * (1.0 - low) + low)
        if t < w + stable:
            return 1.0
        if t < w + stable + decay:
            p = float(t - w - stable) / float(max(1, decay))
            f = {
                "linear": 1.0 - p,
                "cosine": 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * p)),
                "1-sqrt": 1.0 - math.sqrt(p),
            }[dt]
            return max(0.0, f * (1.0 - low) + low)
        return low
    if t < w:
        return warm(t, w)
    progress = float(t - w) / float(max(1, total - w))
    if name == "linear":
        return max(0.0, float(total - t) / float(max(1, total - w)))
    if name == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(kw.get("num_cycles", 0.5)) * 2.0 * progress)))
    if name == "cosine_with_restarts":
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(kw.get("num_cycles", 1)) * progress) % 1.0))))
    if name == "cosine_with_min_lr":
        rate = kw["min_lr_rate"]
        factor = 0.5 * (1.0 + math.cos(math.pi * float(kw.get("num_cycles", 0.5)) * 2.0 * progress))
        return max(0, factor * (1 - rate) + rate)
    if name == "polynomial":
        lr_init, lr_end, power = kw["lr_init"], kw.get("lr_end", 1e-7), kw.get("power", 1.0)
        if t > total:
            return lr_end / lr_init
        remaining = 1 - (t - w) / (total - w)
        return (float(lr_init - lr_end) * remaining**power + lr_end) / lr_init
    raise AssertionError(name)


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("linear", {}, {}),
    ("cosine", {}, {}),
    ("cosine", {"num_cycles": 1.5}, {"num_cycles": 1.5}),
    ("cosine_with_restarts", {"num_cycles": 3}, {"num_cycles": 3}),
    ("cosine_with_restarts", {}, {}),
    ("polynomial", {"lr_end": 1e-4, "power": 2.0}, {"lr_init": 0.1, "lr_end": 1e-4, "power": 2.0}),
    ("polynomial", {}, {"lr_init": 0.1}),
    ("constant", {}, {}),
    ("constant_with_warmup", {}, {}),
    ("inverse_sqrt", {}, {}),
    ("inverse_sqrt", {"timescale": 7}, {"timescale": 7}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.1}, {"min_lr_rate": 0.1}),
    ("cosine_with_min_lr", {"min_lr": 0.005}, {"min_lr_rate": 0.005 / 0.1}),
    ("warmup_stable_decay", {"num_decay_steps": 30}, {"stable": 50, "decay": 30}),
    (
        "warmup_stable_decay",
        {
            "num_decay_steps": 20,
            "num_stable_steps": 10,
            "warmup_type": "cosine",
            "decay_type": "1-sqrt",
            "min_lr_ratio": 0.1,
        },
        {"stable": 10, "decay": 20, "warmup_type": "cosine", "decay_type": "1-sqrt", "min_lr_ratio": 0.1},
    ),
    (
        "warmup_stable_decay",
        {"num_decay_steps": 40, "warmup_type": "1-sqrt", "decay_type": "linear"},
        {"stable": 40, "decay": 40, "warmup_type": "1-sqrt", "decay_type": "linear"},
    ),
]


@pytest.mark.numeric
@pytest.mark.parametrize(("name", "extra", "reference"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("warmup", [0, 1, 20])
def test_get_scheduler_equals_transformers_formulas(
    name: str, extra: dict[str, Any], reference: dict[str, Any], warmup: int
) -> None:
    total = 100
    if (
        name == "warmup_stable_decay"
        and warmup + reference["stable"] + reference["decay"] != total
        and "num_stable_steps" not in extra
    ):
        reference = {**reference, "stable": total - warmup - reference["decay"]}
    cb = ls.get_scheduler(name, warmup_steps=warmup, total_steps=total, scheduler_specific_kwargs=extra)
    expected = [0.1 * hf_factor(name, t, warmup, total, **reference) for t in range(total + 20)]
    assert_parity(cb.simulate(total + 20, initial=0.1), expected)


def test_transformers_spellings_and_the_fit_length(tmp_path: Any) -> None:
    cb = ls.get_scheduler("cosine", num_warmup_steps=0.25)  # the length comes from the fit: 2 epochs of 16
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=2, lr=[0.1, 0.4]))
    for step, _, values in probe.rows:
        factor = hf_factor("cosine", step, 8, 32)
        assert values == pytest.approx([0.1 * factor, 0.4 * factor], rel=1e-12, abs=1e-15)


def test_lr_end_and_min_lr_are_relative_to_the_optimizers_default_lr_as_in_transformers() -> None:
    class TwoLrs(TinyModule):
        def configure_optimizers(self) -> Any:
            groups = [{"params": self.layers[0].parameters()}, {"params": self.layers[1].parameters(), "lr": 0.4}]
            return torch.optim.SGD(groups, lr=0.1)

    cb = ls.get_scheduler("polynomial", warmup_steps=4, total_steps=16, scheduler_specific_kwargs={"lr_end": 0.01})
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=1).fit(TwoLrs(groups=2))
    for step, _, values in probe.rows:
        factor = hf_factor("polynomial", step, 4, 16, lr_init=0.1, lr_end=0.01)  # optimizer.defaults["lr"]
        assert values == pytest.approx([0.1 * factor, 0.4 * factor], rel=1e-12)


def test_reduce_lr_on_plateau_and_bad_names() -> None:
    plateau = ls.get_scheduler("reduce_lr_on_plateau", scheduler_specific_kwargs={"monitor": "val_loss", "patience": 2})
    assert isinstance(plateau, ls.ReduceLROnPlateau) and plateau.state.patience == 2
    with pytest.raises(ValueError, match=r"needs the metric to watch"):
        ls.get_scheduler("reduce_lr_on_plateau")
    with pytest.raises(ValueError, match=r"`name` must be one of .*'reduce_lr_on_plateau', 'greedy'\), got 'cosin'"):
        ls.get_scheduler("cosin")
    with pytest.raises(ValueError, match=r"needs `min_lr` or `min_lr_rate`"):
        ls.get_scheduler("cosine_with_min_lr", warmup_steps=1, total_steps=10)
    with pytest.raises(ValueError, match=r"`lr_end`=0.5 must be smaller than the initial lr \(0.1\)"):
        ls.get_scheduler("polynomial", total_steps=10, scheduler_specific_kwargs={"lr_end": 0.5}).simulate(
            3, initial=0.1
        )
    with pytest.raises(TypeError, match=r"not both"):
        ls.get_scheduler("linear", warmup_steps=1, num_warmup_steps=2)
