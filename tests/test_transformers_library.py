"""``ls.get_scheduler`` against transformers' own ``get_scheduler`` (the ``transformers`` test extra).

Every name with a closed form, ``cosine_warmup_with_min_lr`` among them, is compared with the
``LambdaLR`` transformers builds, stepped once per optimizer step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, group_values, make_trainer
from transformers.optimization import get_scheduler as hf_get_scheduler

import lightning_schedulers as ls

pytestmark = [
    pytest.mark.numeric,
    # transformers' own note when num_stable_steps is given with num_training_steps.
    pytest.mark.filterwarnings("ignore:Both num_training_steps and num_stable_steps are specified:UserWarning"),
]

LRS = [0.1, 0.4]


def hf_trace(name: str, warmup: int, total: int, extra: dict[str, Any], n: int, lrs: list[float] = LRS) -> np.ndarray:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], lr=lrs[0])
    sched = hf_get_scheduler(
        name, opt, num_warmup_steps=warmup, num_training_steps=total, scheduler_specific_kwargs=extra
    )
    rows = []
    for _ in range(n):
        rows.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(rows)


CASES: list[tuple[str, dict[str, Any]]] = [
    ("linear", {}),
    ("cosine", {}),
    ("cosine", {"num_cycles": 1.5}),
    ("cosine_with_restarts", {"num_cycles": 3}),
    ("polynomial", {"lr_end": 1e-4, "power": 2.0}),
    ("constant", {}),
    ("constant_with_warmup", {}),
    ("inverse_sqrt", {"timescale": 7}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.1}),
    ("cosine_with_min_lr", {"min_lr": 0.005}),
    ("cosine_warmup_with_min_lr", {"min_lr_rate": 0.1}),
    ("cosine_warmup_with_min_lr", {"min_lr": 0.005, "warmup_lr_rate": 0.2}),
    ("cosine_warmup_with_min_lr", {"min_lr_rate": 0.0, "warmup_lr_rate": 0.0, "num_cycles": 1.0}),
    ("warmup_stable_decay", {"num_decay_steps": 30}),
    (
        "warmup_stable_decay",
        {
            "num_decay_steps": 20,
            "num_stable_steps": 10,
            "warmup_type": "cosine",
            "decay_type": "1-sqrt",
            "min_lr_ratio": 0.1,
        },
    ),
]


@pytest.mark.parametrize(("name", "extra"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("warmup", [0, 1, 2, 20])
def test_get_scheduler_equals_transformers(name: str, extra: dict[str, Any], warmup: int) -> None:
    total, n = 100, 120
    cb = ls.get_scheduler(name, warmup_steps=warmup, total_steps=total, scheduler_specific_kwargs=extra)
    assert_parity(cb.simulate(n, initial=LRS), hf_trace(name, warmup, total, extra, n))


def test_cosine_warmup_with_min_lr_in_a_fit() -> None:
    extra = {"min_lr_rate": 0.1, "warmup_lr_rate": 0.1}
    cb = ls.get_scheduler("cosine_warmup_with_min_lr", num_warmup_steps=5, scheduler_specific_kwargs=extra)
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=2, lr=LRS))  # 32 steps
    reference = hf_trace("cosine_warmup_with_min_lr", 5, 32, extra, 32)
    expected = cb.simulate(32, initial=LRS)
    for step, _, values in probe.rows:
        assert values == expected[step].tolist()
        assert_parity(values, reference[step])


def test_new_names_and_their_errors() -> None:
    with pytest.raises(ValueError, match=r"'cosine_warmup_with_min_lr' needs `min_lr` or `min_lr_rate`"):
        ls.get_scheduler("cosine_warmup_with_min_lr", warmup_steps=1, total_steps=10)
    with pytest.raises(ValueError, match=r"give one of `min_lr`=0.1 and `min_lr_rate`=0.1"):
        ls.get_scheduler("cosine_warmup_with_min_lr", scheduler_specific_kwargs={"min_lr": 0.1, "min_lr_rate": 0.1})
    with pytest.raises(TypeError, match=r"`warmup_lr_rate` must be a real number, got 'x'"):
        ls.get_scheduler(
            "cosine_warmup_with_min_lr", scheduler_specific_kwargs={"min_lr_rate": 0.1, "warmup_lr_rate": "x"}
        )
    with pytest.raises(ValueError, match=r"'greedy' needs the metric to watch"):
        ls.get_scheduler("greedy")  # built and tested in test_greedy.py
