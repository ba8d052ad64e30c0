"""The trainer on tiny data it builds itself: learning, stopping, divergence, seeding, resume, events."""

from __future__ import annotations

import dataclasses
import json
import math
import threading

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.errors import ConfigError, TrainingDiverged
from core.models import FAMILIES, ModelConfig, build_model
from core.training import Progress, TrainConfig, Trainer


def images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Blurry bright squares at random places on 1x8x8: structure a small model can learn quickly."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 8, 8)
    for i, (r, c) in enumerate(torch.randint(0, 5, (n, 2), generator=g).tolist()):
        x[i, 0, r : r + 4, c : c + 4] = 1.0
    return (0.8 * x + 0.1 * torch.rand(n, 1, 8, 8, generator=g)).clamp(0, 1)


def table(n: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=g)
    x = z @ torch.randn(2, 13, generator=g) + 0.1 * torch.randn(n, 13, generator=g)
    return (x - x.mean(0)) / x.std(0)  # standardised, as the data contract says


def make(family: str = "dense", shape=(1, 8, 8), init_seed: int = 0, model_kw=None, **train_kw) -> Trainer:
    torch.manual_seed(init_seed)
    model = build_model(ModelConfig(family=family, latent_dim=3, width=16, depth=1, **(model_kw or {})), shape)
    return Trainer(
        model, TrainConfig(**{"epochs": 3, "batch_size": 16, "lr": 1e-2, "device": "cpu", "log_every": 2, **train_kw})
    )


def losses(events) -> list[tuple]:
    return [(e.kind, e.epoch, e.step, e.train_loss, e.val_loss, tuple(e.parts.items())) for e in events]


@pytest.mark.parametrize(
    "family,shape", [(f, (1, 8, 8)) for f in FAMILIES] + [("dense", (13,)), ("recurrent", (13,)), ("vae", (13,))]
)
def test_loss_goes_down(family, shape):
    x = images() if len(shape) == 3 else table()
    trainer = make(family, shape, epochs=4)
    before, _ = trainer.evaluate(x)
    events = [e for e in trainer.fit(x, x) if e.kind == "epoch"]
    assert len(events) == 4 and trainer.epoch == 4
    assert events[-1].val_loss < before and events[-1].train_loss < events[0].train_loss


def test_events_count_and_fields():
    trainer = make(epochs=2, log_every=3)  # 64 rows / 16 = 4 steps per epoch, 8 in all
    events = list(trainer.fit(images(), images(16, seed=1)))
    steps = [e for e in events if e.kind == "step"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.step for e in steps] == [3, 6] and [e.step for e in epochs] == [4, 8]
    assert all(e.steps_per_epoch == 4 and e.epochs == 2 and e.lr == 1e-2 for e in events)
    assert all(e.samples_per_second > 0 and e.elapsed > 0 and set(e.parts) == {"recon"} for e in events)
    assert all(e.val_loss is not None and set(e.val_parts) == {"recon"} for e in epochs)
    assert trainer.best_val_loss == min(e.val_loss for e in epochs)


def test_events_are_frozen_and_json():
    event = next(e for e in make(model_kw={"sparsity": 0.1}).fit(images(), images()) if e.kind == "epoch")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.train_loss = 0.0  # type: ignore[misc]
    assert Progress.from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_stop_flag_stops_between_batches():
    stop = threading.Event()
    trainer = make(epochs=50, log_every=1)
    seen = []
    for event in trainer.fit(images(), stop=stop):
        seen.append(event)
        stop.set()  # as a UI thread would
    assert len(seen) == 1 and trainer.step == 1 and trainer.epoch == 0


def test_early_stopping():
    # SGD at 1e-20 changes no weight: the validation loss never improves after epoch 1.
    trainer = make(epochs=20, patience=2, optimizer="sgd", lr=1e-20)
    epochs = [e for e in trainer.fit(images(), images(16, seed=1)) if e.kind == "epoch"]
    assert len(epochs) == 3 and trainer.epoch == 3
    assert epochs[-1].message and "early stopping" in epochs[-1].message.lower()
    assert all(e.message is None for e in epochs[:-1])
    assert trainer.best_val_loss == epochs[0].val_loss


def test_diverging_learning_rate_raises():
    trainer = make(shape=(13,), optimizer="sgd", lr=1e6, epochs=5)
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        list(trainer.fit(table(), table()))


def test_bad_data_raises_before_the_update():
    trainer = make(shape=(13,))
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    x = table()
    x[:, 0] = math.inf
    with pytest.raises(TrainingDiverged, match="epoch 1, step 1"):
        list(trainer.fit(x))
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())


def test_same_seed_same_losses():
    def run(seed: int) -> list[tuple]:  # a fresh model built after torch.manual_seed(seed), and its trainer
        return losses(make("vae", init_seed=seed, seed=seed, model_kw={"noise": 0.1}).fit(images(), images()))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_runs_training_side_by_side_draw_from_their_own_streams():
    """Two jobs in one server: interleaving their steps must not change either one's losses."""
    kw = dict(family="conv-vae", model_kw={"noise": 0.2, "augment": 1.0})
    alone = [losses(make(**kw, seed=seed).fit(images(), images(16, seed=1))) for seed in (1, 2)]
    fits = [make(**kw, seed=seed).fit(images(), images(16, seed=1)) for seed in (1, 2)]
    together: list[list] = [[], []]
    for first, second in zip(*fits):  # one event of each in turn, as two job threads would go
        together[0].append(first)
        together[1].append(second)
    assert [losses(t) for t in together] == alone
    assert alone[0] != alone[1]


@pytest.mark.parametrize("optimizer,schedule", [("adam", "cosine"), ("sgd", "plateau"), ("adamw", "none")])
def test_resume_equals_straight_run(optimizer, schedule):
    x, v = images(), images(16, seed=1)
    kw = dict(
        family="conv-vae",
        model_kw={"noise": 0.1, "augment": 1.0},
        optimizer=optimizer,
        schedule=schedule,
        epochs=4,
        lr=3e-3,
    )
    straight = losses(make(**kw).fit(x, v))

    first = make(**kw)
    first.config = dataclasses.replace(first.config, epochs=2)  # as if stopped after epoch 2
    part = losses(first.fit(x, v))
    tensors, meta = first.state_tensors()
    assert all(isinstance(k, str) and t.is_contiguous() for k, t in tensors.items())
    weights = st_load(st_save({k: t.clone() for k, t in first.model.state_dict().items()}))
    tensors, meta = st_load(st_save(tensors)), json.loads(json.dumps(meta))  # through real files' formats

    second = make(**kw, init_seed=123)  # a different init, overwritten by the checkpoint
    second.model.load_state_dict(weights)
    second.load_state_tensors(tensors, meta)
    assert second.epoch == 2
    assert part + losses(second.fit(x, v)) == straight


def test_schedules_change_the_rate():
    lrs = [e.lr for e in make(schedule="cosine", epochs=4).fit(images()) if e.kind == "epoch"]
    assert lrs[0] == 1e-2 and lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]


def test_config_errors():
    model = build_model(ModelConfig(latent_dim=2, width=8, depth=1), (13,))
    with pytest.raises(ConfigError, match="adam, adamw, sgd"):
        Trainer(model, TrainConfig(optimizer="lbfgs"))
    with pytest.raises(ConfigError, match="none, cosine, plateau"):
        Trainer(model, TrainConfig(schedule="step"))
    with pytest.raises(ConfigError, match="expects"):
        list(Trainer(model, TrainConfig(device="cpu")).fit(images()))
    with pytest.raises(ConfigError, match="optimizer"):
        trainer = make(optimizer="sgd")
        trainer.load_state_tensors(*make(optimizer="adam").state_tensors())
