"""Familiar names: the scheduler classes of torch, ignite, braintools/optax and poutyne, and modern schedules.

Each class maps its library's arguments onto the pure layer (:mod:`lightning_schedulers.schedules`)
and applies them through :class:`~lightning_schedulers.callbacks.base.SchedulerCallback`.

* :mod:`~lightning_schedulers.families.torch`: ``torch.optim.lr_scheduler``.
* :mod:`~lightning_schedulers.families.ignite`: pytorch-ignite's parameter and state schedulers.
* :mod:`~lightning_schedulers.families.optax`: braintools/optax ``ExponentialDecayLR``.
* :mod:`~lightning_schedulers.families.poutyne`: poutyne's ``OptimizerPolicy``.
* :mod:`~lightning_schedulers.families.modern`: warmup-cosine, WSD, polynomial, timm cycles, inverse sqrt.
* :mod:`~lightning_schedulers.families.transformers`: HF transformers' ``get_scheduler`` names.
* :mod:`~lightning_schedulers.families.timm`: timm's ``CosineLRScheduler``, ``TanhLRScheduler``,
  ``StepLRScheduler``, ``MultiStepLRScheduler``, ``PolyLRScheduler`` (noise included).
* :mod:`~lightning_schedulers.families.deepspeed`: DeepSpeed's ``WarmupLR``, ``WarmupDecayLR``,
  ``WarmupCosineLR``, ``OneCycle``, ``LRRangeTest``, as its engine steps them.
* :mod:`~lightning_schedulers.families.bolts`: lightning-bolts' ``LinearWarmupCosineAnnealingLR``
  and ``linear_warmup_decay``.
* :mod:`~lightning_schedulers.families.external`: any ``LRScheduler``-style scheduler (``TorchScheduler``).
"""
