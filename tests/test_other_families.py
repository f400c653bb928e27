"""braintools/optax ExponentialDecayLR, poutyne policies and the modern schedules."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, make_trainer
from poutyne.framework.callbacks import policies as pp

import lightning_schedulers as ls
from lightning_schedulers import presets
from lightning_schedulers.schedules import Phase, cosinespace, linspace

warnings.filterwarnings("ignore", ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")


# ------------------------------------------------------------------ braintools / optax
def exp_decay_closed_form(t: int, base: float, steps: int, rate: float, begin: int, stair: bool, end: Any) -> float:
    p = max(t - begin, 0) / steps
    if stair:
        p = math.floor(p)
    v = base * rate**p
    if end is not None:
        v = max(v, end) if rate < 1 else min(v, end)
    return v


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decay_steps": 1000, "decay_rate": 0.96},
        {"decay_steps": 7, "decay_rate": 0.5, "staircase": True},
        {"decay_steps": 100, "decay_rate": 0.95, "transition_begin": 250},
        {"decay_steps": 50, "decay_rate": 0.9, "end_value": 0.001},
        {"decay_steps": 10, "decay_rate": 1.05, "end_value": 0.5, "staircase": True, "transition_begin": 3},
        {"decay_steps": 10, "decay_rate": 1.01},
    ],
)
def test_exponential_decay_golden_float64(kwargs: dict[str, Any]) -> None:
    n = 5000
    ours = ls.ExponentialDecayLR(base_lr=0.1, **kwargs).simulate(n)
    args = (kwargs["decay_steps"], kwargs["decay_rate"], kwargs.get("transition_begin", 0))
    golden = [
        exp_decay_closed_form(t, 0.1, *args, kwargs.get("staircase", False), kwargs.get("end_value")) for t in range(n)
    ]
    np.testing.assert_allclose(ours, golden, rtol=1e-12, atol=0)
    # The references compute in float32: agreement to float32 precision.
    t = np.arange(n, dtype=np.float32)
    p = np.maximum(t - np.float32(args[2]), np.float32(0)) / np.float32(args[0])
    if kwargs.get("staircase"):
        p = np.floor(p)
    f32 = np.float32(0.1) * np.power(np.float32(args[1]), p)
    if kwargs.get("end_value") is not None:
        f32 = (np.maximum if args[1] < 1 else np.minimum)(f32, np.float32(kwargs["end_value"]))
    # float32 rounds t, p and the power: a relative error of a few float32 ulps times the exponent's size.
    normal = f32 > np.finfo(np.float32).tiny
    bound = 16 * np.finfo(np.float32).eps * (1 + np.abs(p.astype(np.float64) * math.log(args[1])))
    rel = np.abs(ours - f32.astype(np.float64)) / f32.astype(np.float64)
    assert np.all(rel[normal] <= bound[normal])


def test_exponential_decay_reproduces_the_braintools_documentation() -> None:
    continuous = ls.ExponentialDecayLR(base_lr=0.1, decay_steps=1000, decay_rate=0.96).simulate(4001)
    assert [round(float(continuous[s]), 6) for s in range(0, 4001, 1000)] == [0.1, 0.096, 0.09216, 0.088474, 0.084935]
    stair = ls.ExponentialDecayLR(base_lr=0.1, decay_steps=1000, decay_rate=0.5, staircase=True).simulate(3001)
    assert [round(float(stair[s]), 6) for s in range(0, 3001, 500)] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]
    delayed = ls.ExponentialDecayLR(base_lr=0.01, decay_steps=1000, decay_rate=0.95, transition_begin=2000).simulate(
        4001
    )
    assert [round(float(delayed[s]), 6) for s in range(0, 4001, 1000)] == [0.01, 0.01, 0.01, 0.0095, 0.009025]
    bounded = ls.ExponentialDecayLR(base_lr=0.1, decay_steps=500, decay_rate=0.9, end_value=0.001).simulate(10**6)
    assert bounded.min() == 0.001 and bounded[0] == 0.1


def test_exponential_decay_per_group_and_from_each_groups_lr() -> None:
    lrs = [0.1, 0.2, 0.4]
    own = ls.ExponentialDecayLR(decay_steps=10, decay_rate=0.5).simulate(21, initial=lrs)
    np.testing.assert_allclose(own[20], [0.025, 0.05, 0.1], rtol=1e-15)
    given = ls.ExponentialDecayLR(base_lr=[1.0, 2.0, 3.0], decay_steps=10, decay_rate=0.5).simulate(11, initial=lrs)
    np.testing.assert_allclose(given[10], [0.5, 1.0, 1.5], rtol=1e-15)
    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    cb = ls.ExponentialDecayLR(decay_steps=4, decay_rate=0.5, transition_begin=3)
    make_trainer([cb, probe], max_epochs=1, accumulate_grad_batches=2).fit(TinyModule(groups=3, lr=lrs))
    for step, _, values in probe.rows:
        assert_parity(values, [exp_decay_closed_form(step, lr, 4, 0.5, 3, False, None) for lr in lrs])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"decay_steps": 0}, r"`decay_steps` must be >= 1, got 0"),
        ({"decay_steps": -5}, r"`decay_steps` must be >= 1, got -5"),
        ({"decay_rate": 0.0}, r"`decay_rate` must be > 0, got 0.0"),
        ({"transition_begin": -1}, r"`transition_begin` must be >= 0, got -1"),
        ({"base_lr": -0.1}, r"`base_lr` must be > 0, got -0.1"),
        ({"base_lr": [0.1, "x"]}, r"`base_lr\[1\]` must be a real number, got 'x'"),
        ({"end_value": float("nan")}, r"`end_value` must be finite, got nan"),
    ],
)
def test_exponential_decay_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        ls.ExponentialDecayLR(**kwargs)


# ------------------------------------------------------------------ poutyne
@pytest.mark.parametrize(("start", "end", "steps"), [(0.0, 1.0, 2), (1.0, 0.1, 10), (0.95, 0.85, 37), (0.3, 0.3, 5)])
def test_spaces_equal_poutyne(start: float, end: float, steps: int) -> None:
    assert list(linspace(start, end, steps)) == list(pp.linspace(start, end, steps))
    assert list(cosinespace(start, end, steps)) == list(pp.cosinespace(start, end, steps))


def test_single_step_space_is_its_start() -> None:
    assert list(linspace(0.4, 1.0, 1)) == [0.4]
    assert list(cosinespace(0.4, 1.0, 1)) == [0.4]
    with pytest.raises(ZeroDivisionError):
        list(pp.linspace(0.4, 1.0, 1))  # what poutyne does instead


def test_phase_length_mismatch_is_an_error_not_a_truncation() -> None:
    assert len(list(pp.Phase(lr=pp.linspace(0, 1, 5), momentum=pp.linspace(0.9, 0.8, 4)))) == 4
    with pytest.raises(ValueError, match=r"lengths \{'lr': 5, 'momentum': 4\}"):
        Phase(lr=linspace(0.0, 1.0, 5), momentum=linspace(0.9, 0.8, 4))


def poutyne_steps(phases: list[Any], key: str) -> list[float]:
    return [step[key] for step in pp.OptimizerPolicy(phases).all_steps()]


@pytest.mark.parametrize("steps", [5, 9, 20, 21, 100, 1001])
def test_one_cycle_phases_equal_poutyne(steps: int) -> None:
    policy = ls.OptimizerPolicy(presets.one_cycle_phases(steps, lr=(0.05, 0.5), finetune_lr=0.001))
    theirs = pp.one_cycle_phases(steps, lr=(0.05, 0.5), finetune_lr=0.001)
    ours = policy.simulate(steps + 5)
    assert ours[:steps, 0].tolist() == poutyne_steps(theirs, "lr")
    assert ours[:steps, 1].tolist() == poutyne_steps(theirs, "momentum")
    assert ours[steps:].tolist() == [ours[steps - 1].tolist()] * 5  # the last values hold


@pytest.mark.parametrize("steps", range(10, 20))
def test_one_cycle_phases_do_not_crash_for_10_to_19_steps(steps: int) -> None:
    with pytest.raises(ZeroDivisionError):
        list(pp.OptimizerPolicy(pp.one_cycle_phases(steps)).all_steps())
    phases = presets.one_cycle_phases(steps)
    assert [p.steps for p in phases][-1] == 1
    values = ls.OptimizerPolicy(phases).simulate(steps)
    up = (steps - 1) // 2
    assert values[:up, 0].tolist() == list(pp.linspace(0.1, 1, up))
    assert values[-1].tolist() == [0.1, 0.95]  # the one-step fine-tuning phase holds its start


@pytest.mark.parametrize(("base", "cycles", "mult"), [(4, 3, 2), (10, 2, 1), (3, 4, 3)])
def test_sgdr_phases_equal_poutyne(base: int, cycles: int, mult: int) -> None:
    ours = ls.OptimizerPolicy(presets.sgdr_phases(base, cycles, lr=(0.2, 0.01), cycle_mult=mult))
    theirs = pp.sgdr_phases(base, cycles, lr=(0.2, 0.01), cycle_mult=mult)
    expected = poutyne_steps(theirs, "lr")
    assert ours.simulate(len(expected)).tolist() == expected
    assert [s["lr"] for s in ours.all_steps()] == expected


def test_initial_step_skips_values_like_poutyne() -> None:
    phases = presets.sgdr_phases(5, 2)
    ours = ls.OptimizerPolicy(phases, initial_step=3).simulate(12)
    theirs = pp.OptimizerPolicy(pp.sgdr_phases(5, 2), initial_step=3)
    expected = [step["lr"] for step in theirs]
    assert ours.tolist() == expected + [expected[-1]] * (12 - len(expected))


def test_policy_in_a_fit_writes_betas_on_adam() -> None:
    phases = presets.one_cycle_phases(9)
    policy = ls.OptimizerPolicy(phases)
    probe = Probe(
        lambda trainer, m: (
            [float(g["lr"]) for g in trainer.optimizers[0].param_groups]
            + [float(g["betas"][0]) for g in trainer.optimizers[0].param_groups]
        )
    )
    module = TinyModule(optimizer="Adam", groups=2)
    make_trainer([policy, probe], max_epochs=1).fit(module)
    lrs = poutyne_steps(pp.one_cycle_phases(9), "lr")
    moms = poutyne_steps(pp.one_cycle_phases(9), "momentum")
    assert len(probe.rows) == 16
    for step, _, values in probe.rows:
        t = min(step, 8)
        assert values == [lrs[t], lrs[t], moms[t], moms[t]]
    assert all("momentum" not in g for g in module.trainer.optimizers[0].param_groups)  # no dead key


def test_phase_and_policy_plots_return_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    phase = Phase(lr=linspace(0.0, 1.0, 5), momentum=linspace(0.9, 0.8, 5))
    ax = phase.plot("momentum")
    assert isinstance(ax, Axes)
    assert list(ax.get_lines()[0].get_ydata()) == list(linspace(0.9, 0.8, 5))
    policy = ls.OptimizerPolicy(presets.one_cycle_phases(30))
    assert isinstance(policy.plot(), Axes)
    ax = policy.plot("lr")
    assert list(ax.get_lines()[0].get_ydata()) == poutyne_steps(pp.one_cycle_phases(30), "lr")
    with pytest.raises(KeyError, match=r"'wd' is not driven by these phases"):
        policy.plot(param_name="wd")


# ------------------------------------------------------------------ modern schedules
def test_warmup_cosine_closed_form() -> None:
    s = presets.warmup_cosine(peak=2.0, total_steps=110, warmup_steps=10, start=0.2, floor=0.02)
    for t in range(130):
        if t < 10:
            want = 0.2 + (2.0 - 0.2) * t / 10
        elif t < 110:
            want = 0.02 + (2.0 - 0.02) * (1 + math.cos(math.pi * (t - 10) / 100)) / 2
        else:
            want = 0.02
        assert s.value(t) == pytest.approx(want, rel=1e-13)


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
def test_warmup_stable_decay_closed_form(decay: str) -> None:
    s = presets.warmup_stable_decay(1.0, total_steps=100, warmup_steps=10, decay_steps=20, decay=decay, floor=0.1)
    for t in range(110):
        if t < 10:
            want = t / 10
        elif t < 80:
            want = 1.0
        elif t < 100:
            x = (t - 80) / 20
            shape = {"linear": 1 - x, "cosine": (1 + math.cos(math.pi * x)) / 2, "1-sqrt": 1 - math.sqrt(x)}[decay]
            want = 0.1 + 0.9 * shape
        else:
            want = 0.1
        assert s.value(t) == pytest.approx(want, rel=1e-13, abs=1e-15)


def test_noam_closed_form() -> None:
    s = presets.noam(512, warmup_steps=4000)
    for t in (0, 1, 100, 3998, 3999, 4000, 10**5, 10**8):
        step = t + 1
        assert s.value(t) == pytest.approx(512**-0.5 * min(step**-0.5, step * 4000**-1.5), rel=1e-14)
    assert max(s.values(np.arange(10_000))) == s.value(3999)


def timm_cosine(
    t: int, base: float, lr_min: float, t_initial: int, mul: float, decay: float, limit: int, k: float
) -> float:
    # timm's CosineLRScheduler._get_lr without warmup, written out.
    if mul != 1:
        i = math.floor(math.log(1 - t / t_initial * (1 - mul), mul))
        t_i = mul**i * t_initial
        t_curr = t - (1 - mul**i) / (1 - mul) * t_initial
    else:
        i = t // t_initial
        t_i = t_initial
        t_curr = t - t_initial * i
    if i >= limit:
        return lr_min
    lr_max = base * decay**i
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_curr**k / t_i**k))


@pytest.mark.parametrize(
    ("mul", "decay", "limit", "k"), [(1.0, 1.0, 1, 1.0), (1.0, 0.5, 3, 1.0), (2.0, 0.8, 4, 1.0), (1.5, 1.0, 5, 2.0)]
)
def test_cosine_cycles_match_timm(mul: float, decay: float, limit: int, k: float) -> None:
    s = presets.cosine_cycles(
        1.0, 0.01, cycle_steps=20, cycle_mult=mul, cycle_decay=decay, cycle_limit=limit, k_decay=k
    )
    for t in range(600):
        assert s.value(t) == pytest.approx(timm_cosine(t, 1.0, 0.01, 20, mul, decay, limit, k), rel=1e-12)


def test_modern_callbacks_scale_each_group_and_take_the_fit_length() -> None:
    lrs = [0.1, 0.4]
    cbs = [
        ls.WarmupCosineLR(warmup_steps=4, min_factor=0.1),
        ls.WarmupStableDecayLR(warmup_steps=4, decay_steps=8, decay="1-sqrt", optimizer=0),
    ]
    for cb in cbs:
        probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
        make_trainer([cb, probe], max_epochs=2).fit(TinyModule(groups=2, lr=lrs))
        assert cb._total == 32
        factor = cb.simulate(32)  # the factor over a 32-step fit
        for step, _, values in probe.rows:
            assert values == [lr * factor[step] for lr in lrs]
    wc = presets.warmup_cosine(1.0, 32, 4, floor=0.1)
    np.testing.assert_array_equal(cbs[0].simulate(32, initial=lrs), np.outer(wc.values(np.arange(32)), lrs))


def test_modern_callbacks_values() -> None:
    np.testing.assert_allclose(
        ls.InverseSqrtLR(warmup_steps=100).simulate(1000, initial=0.5),
        [0.5 * min(math.sqrt(100 / (t + 1)), (t + 1) / 100) for t in range(1000)],
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        ls.PolynomialDecayLR(total_steps=50, power=2.0, end_factor=0.1, warmup_steps=10).simulate(60, initial=1.0),
        [t / 10 if t < 10 else (0.9 * (1 - (t - 10) / 40) ** 2 + 0.1 if t < 50 else 0.1) for t in range(60)],
        rtol=1e-13,
    )
    got = ls.CosineCyclesLR(cycle_steps=20, cycle_decay=0.5, cycle_limit=3, min_factor=0.01).simulate(80, initial=2.0)
    np.testing.assert_allclose(
        got, [2.0 * timm_cosine(t, 1.0, 0.01, 20, 1.0, 0.5, 3, 1.0) for t in range(80)], rtol=1e-13
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: presets.warmup_cosine(1.0, total_steps=10, warmup_steps=10),
            r"`warmup_steps` must be < `total_steps`",
        ),
        (
            lambda: presets.warmup_stable_decay(1.0, 10, 5, 6),
            r"`warmup_steps` \+ `decay_steps` must be <= `total_steps`",
        ),
        (lambda: presets.warmup_stable_decay(1.0, 10, 2, 2, decay="exp"), r"`decay` must be one of"),
        (lambda: presets.noam(0, 10), r"`model_size` must be >= 1, got 0"),
        (lambda: presets.one_cycle_phases(10, finetune_fraction=1.0), r"`finetune_fraction` must be in \[0, 1\)"),
        (lambda: presets.sgdr_phases(0, 2), r"`base_cycle_length` must be >= 1, got 0"),
        (lambda: ls.WarmupCosineLR(warmup_steps=10, total_steps=5), r"`warmup_steps` must be < `total_steps`"),
        (lambda: ls.WarmupStableDecayLR(2, decay_steps=0), r"`decay_steps` must be >= 1, got 0"),
        (lambda: ls.CosineCyclesLR(cycle_steps=10, cycle_mult=0.5), r"`cycle_mult` must be >= 1"),
        (lambda: ls.InverseSqrtLR(0), r"`warmup_steps` must be >= 1, got 0"),
        (lambda: ls.OptimizerPolicy([]), r"`phases` must not be empty"),
        (lambda: ls.OptimizerPolicy([Phase(lr=linspace(0, 1, 3))], initial_step=-1), r"`initial_step` must be >= 0"),
    ],
)
def test_modern_and_poutyne_bad_arguments(make: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_unknown_total_is_a_clear_error_for_an_iterable_dataset() -> None:
    class Stream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            g = torch.Generator().manual_seed(0)
            for _ in range(8):
                yield torch.randn(4, generator=g), torch.randn(1, generator=g)

    class StreamModule(TinyModule):
        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(Stream(), batch_size=2)

    with pytest.raises(ValueError, match=r"WarmupCosineLR: the total number of optimizer steps is unknown"):
        make_trainer([ls.WarmupCosineLR(warmup_steps=2)], max_epochs=1).fit(StreamModule())


def timm_with_warmup(t: int, base: float, warmup_t: int, warmup_lr_init: float, prefix: bool, **cosine: Any) -> float:
    # timm's CosineLRScheduler._get_lr with its warmup, written out: a linear ramp below warmup_t,
    # then the cosine at t (warmup_prefix=False, timm's default) or at t - warmup_t (True).
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    return timm_cosine(t - warmup_t if prefix else t, base, **cosine)


@pytest.mark.parametrize("prefix", [False, True])
def test_cosine_cycles_warmup_prefix_matches_timm(prefix: bool) -> None:
    kwargs: dict[str, Any] = {"cycle_steps": 20, "cycle_mult": 1.5, "cycle_decay": 0.8, "cycle_limit": 3}
    cb = ls.CosineCyclesLR(**kwargs, min_factor=0.1, warmup_steps=5, warmup_start_factor=0.01, warmup_prefix=prefix)
    cosine = {"lr_min": 0.1 * 0.5, "t_initial": 20, "mul": 1.5, "decay": 0.8, "limit": 3, "k": 1.0}
    expected = [timm_with_warmup(t, 0.5, 5, 0.01 * 0.5, prefix, **cosine) for t in range(200)]
    np.testing.assert_allclose(cb.simulate(200, initial=0.5), expected, rtol=1e-12, atol=1e-15)


def test_cosine_cycles_default_is_timms_warmup_prefix_false() -> None:
    default = ls.CosineCyclesLR(cycle_steps=10, warmup_steps=4).simulate(12, initial=1.0)
    explicit = ls.CosineCyclesLR(cycle_steps=10, warmup_steps=4, warmup_prefix=False).simulate(12, initial=1.0)
    np.testing.assert_array_equal(default, explicit)
    assert default[4] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 10)), rel=1e-12)
