"""The trainer: batches from in-memory tensors, progress as a stream of small immutable events.

CONTRACT (keep these names and signatures):

    trainer = Trainer(model, TrainConfig(epochs=5, seed=0))      # picks the device, seeds, builds the optimiser
    for event in trainer.fit(train_x, val_x, stop=threading.Event()):
        ...                                                      # Progress events, see below
    trainer.epoch                # epochs completed so far (resume continues from here)
    trainer.state_tensors() / trainer.load_state_tensors(...)   # optimiser + scheduler state: tensors + JSON metadata

fit() yields kind="step" events every `log_every` batches and one kind="epoch" event at the end of
every epoch (with val_loss). It returns when the epochs are done, when `stop` is set (checked
between batches), or when early stopping triggers (the last event then has `message`). A NaN or
infinite loss raises TrainingDiverged before the weights of that batch are applied.

Why it looks the way it does: the data sits on the device once and batches are index slices of
a seeded randperm (a per-sample DataLoader costs more than a small model's step). Losses are
summed on the device and read back only when an event is due; the one sync per step is the
finiteness check, which must happen before `optimizer.step()`. Same seed, same CPU, same losses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from core.config_base import Config, setting
from core.devices import resolve_device
from core.errors import ConfigError, TrainingDiverged


@dataclass(frozen=True)
class TrainConfig(Config):
    epochs: int = setting(10, "passes over the training rows")
    batch_size: int = setting(128, "rows per optimiser step")
    lr: float = setting(1e-3, "learning rate")
    optimizer: Literal["adam", "adamw", "sgd"] = setting("adam", "the optimiser")
    weight_decay: float = setting(0.0, "L2 penalty on the weights (adamw: decoupled)")
    schedule: Literal["none", "cosine", "plateau"] = setting(
        "none",
        "learning-rate schedule: cosine decays it over the epochs; plateau halves it after 2 epochs "
        "without a better validation loss",
    )
    patience: int | None = setting(None, "stop early after N epochs without a better validation loss (none = off)")
    seed: int = setting(0, "drives the initial weights and the batch order")
    device: str = setting(
        "auto", "where to train: auto picks CUDA, then MPS, then the CPU", choices="core.devices:DEVICE_CHOICES"
    )
    log_every: int = setting(10, "batches between step events (the live chart's resolution)")


@dataclass(frozen=True)
class Progress:
    """One thing that happened while training. JSON-able via `to_dict()`; one line each in metrics.jsonl."""

    kind: Literal["step", "epoch"]
    epoch: int  # 1-based epoch this event belongs to
    epochs: int  # planned total
    step: int  # global batch count so far
    steps_per_epoch: int
    train_loss: float  # step: mean over the last log_every batches; epoch: mean over the epoch
    val_loss: float | None = None  # epoch events only (None when there is no validation set)
    parts: dict[str, float] = field(default_factory=dict)  # e.g. {"recon": .., "kl": ..}
    val_parts: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    elapsed: float = 0.0  # seconds since fit() started (resumed runs: since this fit started)
    samples_per_second: float = 0.0
    message: str | None = None  # e.g. "early stopping: no improvement for 5 epochs"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Progress:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# --------------------------------------------------------------------------- registries

OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter], TrainConfig], torch.optim.Optimizer]] = {
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda params, c: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=0.9, weight_decay=c.weight_decay),
}
SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], Any]] = {
    "none": lambda opt, c: None,
    "cosine": lambda opt, c: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c.epochs),  # stepped per epoch
    # Halve the rate after 2 epochs without improvement: well before a typical early-stopping patience.
    "plateau": lambda opt, c: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2),
}


def check_train_config(config: TrainConfig) -> None:
    for what, value, names in (("optimizer", config.optimizer, OPTIMIZERS), ("schedule", config.schedule, SCHEDULES)):
        if value not in names:
            raise ConfigError(f"Unknown {what} {value!r}; choose one of {', '.join(names)}.")
    checks = [
        (config.epochs >= 1, f"epochs must be at least 1 (got {config.epochs})"),
        (config.batch_size >= 1, f"batch size must be at least 1 (got {config.batch_size})"),
        (config.lr > 0, f"learning rate must be positive (got {config.lr})"),
        (config.weight_decay >= 0, f"weight decay must be zero or more (got {config.weight_decay})"),
        (config.patience is None or config.patience >= 1, f"patience must be at least 1 (got {config.patience})"),
        (config.log_every >= 1, f"log_every must be at least 1 (got {config.log_every})"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message[0].upper() + message[1:] + ".")


# --------------------------------------------------------------------------- the trainer


class Trainer:
    def __init__(self, model: nn.Module, config: TrainConfig):
        check_train_config(config)
        self.config = config
        self.device = resolve_device(config.device)
        # Two streams of this run's own, never torch's global one (other jobs draw from that):
        # shuffling, and what the model draws (noise, poses, VAE samples), so that the order of
        # batches does not depend on what the model draws.
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model = model.to(self.device)
        # Conv nets train faster with channels-last images on oneDNN (CPU) and cuDNN: on the conv
        # best-quality model, batch 256 on 2 cores, 3,700 samples/s against 2,600 (benchmarks/trainer_overhead.py).
        self.channels_last = any(isinstance(m, nn.Conv2d) for m in self.model.modules())
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model_generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        if hasattr(self.model, "generator"):
            self.model.generator = self.model_generator
        self.optimizer = OPTIMIZERS[config.optimizer](self.model.parameters(), config)
        self.scheduler = SCHEDULES[config.schedule](self.optimizer, config)
        self.epoch = 0  # epochs completed
        self.step = 0  # batches completed, over all epochs
        self.best_val_loss: float | None = None  # best validation loss so far (None: no validation yet)
        self.best_loss: float | None = None  # what early stopping watches: val loss, or train loss without a val set
        self.bad_epochs = 0  # epochs since best_loss last improved

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _prepare(self, x: Any, what: str) -> torch.Tensor:
        """float32 on the device, once per fit: batches are then cheap index slices."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if len(x) == 0:
            raise ConfigError(f"The {what} set is empty.")
        shape = getattr(self.model, "input_shape", None)
        if shape is not None and tuple(x.shape[1:]) != tuple(shape):
            raise ConfigError(f"The {what} rows are shaped {tuple(x.shape[1:])} but the model expects {tuple(shape)}.")
        if self.device.type == "cuda":  # once per fit: a pinned source copies at full bus speed, asynchronously
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)

    def fit(self, train_x: Any, val_x: Any = None, stop: threading.Event | None = None) -> Iterator[Progress]:
        """Train from epoch `self.epoch` to `config.epochs`, yielding Progress events (see the module doc)."""
        cfg, model, opt = self.config, self.model, self.optimizer
        train_x = self._prepare(train_x, "training")
        val_x = None if val_x is None or len(val_x) == 0 else self._prepare(val_x, "validation")
        n, batch_size = len(train_x), cfg.batch_size
        steps_per_epoch = math.ceil(n / batch_size)
        began = time.perf_counter()
        names: list[str] = []

        for epoch in range(self.epoch + 1, cfg.epochs + 1):
            model.train()
            self.step = (epoch - 1) * steps_per_epoch  # a stop mid-epoch re-runs that whole epoch on resume
            lr = self.lr
            order = torch.randperm(n, generator=self.generator).to(self.device)
            # Sums of [loss, *parts] x batch size, kept on the device: read back only at log points.
            epoch_sum = window_sum = None
            window_n = 0
            epoch_began = window_began = time.perf_counter()
            for start in range(0, n, batch_size):
                if stop is not None and stop.is_set():
                    return
                batch = train_x[order[start : start + batch_size]]
                if self.channels_last and batch.dim() == 4:
                    batch = batch.contiguous(memory_format=torch.channels_last)
                out = model(batch)
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                # The one sync per step: a NaN must be caught before its update lands (as GradScaler does).
                loss = out.loss.item()
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"The loss became {loss} at epoch {epoch}, step {self.step + 1}; lower the learning rate "
                        f"(now {lr:g}), or check the data for NaN or infinite values. "
                        "The weights before this step are kept."
                    )
                opt.step()
                self.step += 1

                stats = torch.stack([out.loss.detach(), *(p.detach() for p in out.parts.values())]) * len(batch)
                if epoch_sum is None:
                    names = list(out.parts)
                    epoch_sum, window_sum = stats, torch.zeros_like(stats)
                else:
                    epoch_sum = epoch_sum + stats
                window_sum = window_sum + stats
                window_n += len(batch)
                if self.step % cfg.log_every == 0:
                    now = time.perf_counter()
                    values = (window_sum / window_n).tolist()
                    yield Progress(
                        "step",
                        epoch,
                        cfg.epochs,
                        self.step,
                        steps_per_epoch,
                        values[0],
                        parts=dict(zip(names, values[1:])),
                        lr=lr,
                        elapsed=now - began,
                        samples_per_second=window_n / max(now - window_began, 1e-9),
                    )
                    resumed = time.perf_counter()
                    epoch_began += resumed - now  # time spent by the consumer is not training time
                    window_sum, window_n, window_began = torch.zeros_like(window_sum), 0, resumed

            train_seconds = time.perf_counter() - epoch_began
            values = (epoch_sum / n).tolist()
            val_loss, val_parts = self.evaluate(val_x) if val_x is not None else (None, {})
            self.epoch = epoch
            message = self._end_epoch(values[0], val_loss)  # before the yield: a checkpoint then sees the epoch's end
            yield Progress(
                "epoch",
                epoch,
                cfg.epochs,
                self.step,
                steps_per_epoch,
                values[0],
                val_loss,
                parts=dict(zip(names, values[1:])),
                val_parts=val_parts,
                lr=lr,
                elapsed=time.perf_counter() - began,
                samples_per_second=n / max(train_seconds, 1e-9),
                message=message,
            )
            if message:
                return

    def _end_epoch(self, train_loss: float, val_loss: float | None) -> str | None:
        """Track the best loss, step the schedule; a message when early stopping ends training."""
        watched = val_loss if val_loss is not None else train_loss
        if (
            val_loss is not None
            and math.isfinite(val_loss)
            and (self.best_val_loss is None or val_loss < self.best_val_loss)
        ):
            self.best_val_loss = val_loss
        if math.isfinite(watched) and (self.best_loss is None or watched < self.best_loss):
            self.best_loss, self.bad_epochs = watched, 0
        else:
            self.bad_epochs += 1
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(watched)
        elif self.scheduler is not None:
            self.scheduler.step()
        patience = self.config.patience
        if patience is not None and self.bad_epochs >= patience and self.epoch < self.config.epochs:
            which = "validation" if val_loss is not None else "training"
            return f"Early stopping: no improvement in {which} loss for {patience} epochs (best {self.best_loss:.4g})."
        return None

    @torch.no_grad()
    def evaluate(self, x: Any) -> tuple[float, dict[str, float]]:
        """Mean loss and parts over `x`, in eval mode (no noise, VAE codes at their mean), batched."""
        x = self._prepare(x, "evaluation")
        was_training = self.model.training
        self.model.eval()
        total, names = None, []
        for start in range(0, len(x), self.config.batch_size):
            batch = x[start : start + self.config.batch_size]
            out = self.model(batch)
            stats = torch.stack([out.loss, *out.parts.values()]) * len(batch)
            total, names = (stats if total is None else total + stats), list(out.parts)
        self.model.train(was_training)
        values = (total / len(x)).tolist()
        return values[0], dict(zip(names, values[1:]))

    # -- resume without pickle: flat tensors for safetensors + JSON metadata ------------------

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Optimiser moments and RNG states as flat CPU tensors; everything else as JSON-able metadata.

        Tensor keys: "optimizer.<param index>.<name>", "rng.shuffle", "rng.model".
        Model weights are not included: save `model.state_dict()` beside these.
        """
        saved = self.optimizer.state_dict()
        tensors: dict[str, torch.Tensor] = {}
        values: dict[str, Any] = {}  # the rare non-tensor state (e.g. SGD's momentum_buffer=None)
        for index, state in saved["state"].items():
            for name, value in state.items():
                key = f"optimizer.{index}.{name}"
                if isinstance(value, torch.Tensor):
                    tensors[key] = value.detach().to("cpu").contiguous().clone()  # clone: no shared storage
                else:
                    values[key] = value
        tensors["rng.shuffle"] = self.generator.get_state().clone()
        tensors["rng.model"] = self.model_generator.get_state().clone()
        metadata = {
            "epoch": self.epoch,
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad_epochs,
            "optimizer": self.config.optimizer,
            "param_groups": saved["param_groups"],
            "optimizer_values": values,
            "schedule": self.config.schedule,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
        }
        return tensors, json.loads(json.dumps(metadata))  # exactly what a JSON file gives back (tuples -> lists)

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
        """Continue where `state_tensors()` left off (after loading the model's weights separately)."""
        for what in ("optimizer", "schedule"):
            if metadata.get(what, getattr(self.config, what)) != getattr(self.config, what):
                raise ConfigError(
                    f"The saved trainer state is for {what} {metadata[what]!r}, "
                    f"but this trainer uses {getattr(self.config, what)!r}."
                )
        state: dict[int, dict[str, Any]] = {}
        for key, value in [*tensors.items(), *metadata.get("optimizer_values", {}).items()]:
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        if "param_groups" in metadata:
            self.optimizer.load_state_dict({"state": state, "param_groups": metadata["param_groups"]})
        if self.scheduler is not None and metadata.get("scheduler"):
            self.scheduler.load_state_dict(metadata["scheduler"])
        if "rng.shuffle" in tensors:
            self.generator.set_state(tensors["rng.shuffle"].to("cpu", torch.uint8).contiguous())
        if "rng.model" in tensors:
            self.model_generator.set_state(tensors["rng.model"].to("cpu", torch.uint8).contiguous())
        self.epoch = int(metadata.get("epoch", 0))
        self.step = int(metadata.get("step", 0))
        self.best_val_loss = metadata.get("best_val_loss")
        self.best_loss = metadata.get("best_loss")
        self.bad_epochs = int(metadata.get("bad_epochs", 0))
