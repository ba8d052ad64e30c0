"""TEMI: clustering heads self-distilled on nearest-neighbour pairs of frozen features.

    labels = TEMIClusterer(n_clusters=10, random_state=0).fit_predict(features)   # (N,) int64

Adaloglou, Michels, Kalisch, Kollmann, "Exploring the Limits of Deep Image Clustering using
Pretrained Models", BMVC 2023 (arXiv 2303.17896). Followed from the official code,
github:HHU-MMBS/TEMI-official-BMVC2023 (files as at its HEAD):

- `losses/loss_utils.py` `beta_mi`, `sim_weight` and `losses/multihead_losses.py` `TEMI`: the loss
  of one head on a pair (a, b) is  -w(a, b) * log( sum_k (p_s(k|a) p_t(k|b))^beta / p(k) ),
  symmetrised over the two orders of the pair, where p_s / p_t are the student / teacher softmaxes
  (both at temperature 0.1, `StudentTeacherLoss`), p(k) is an EMA (momentum 0.9) of the teacher's
  mean probabilities per head, and w = sum_k p_t(k|a) p_t(k|b) is the teachers' agreement on the
  pair, averaged over the heads as `compute_weight` does (it accumulates over all heads).
- `model_builders/multi_head.py` `DINOHead` / `MultiHead`: each head is Linear(D, 512) - GELU -
  Linear(512, 256), L2-normalised, then a weight-normalised Linear(256, K) without bias whose
  norm is trained (`norm_last_layer=False`); truncated-normal(0.02) init, zero biases. The head
  with the lowest mean loss over the last epoch is kept (`MultiHead.set_losses`).
- `gen_embeds.py` `compute_neighbors` and `loaders/embedNN.py` `EmbedNN`: the k nearest
  neighbours by cosine similarity (self excluded), computed once; every epoch pairs each row with
  one neighbour drawn uniformly from its k.
- `train_main.py`: a teacher copy of the heads updated as an EMA of the student (momentum 0.996,
  constant: the README's `--max_momentum_teacher=0.996`), AdamW with weight decay 1e-4 on the
  weights only (`utils.get_params_groups`), linear warm-up of the learning rate then a cosine to
  `min_lr` (`utils.cosine_scheduler`), the last layer frozen for the first epoch
  (`--freeze_last_layer 1`), and training stopped when the loss is not finite. The teacher labels
  the rows (`eval_experiment.py` loads the teacher), as the argmax of its best head.
- README's CIFAR-10 command: `--knn=50 --num_heads=16 --loss TEMI beta=0.6 --lr=1e-4
  --batch_size=1024 --epochs=100 --warmup_epochs=20`, with the rate scaled by batch / 256.

Changed, and why:
- Sized for a CPU, and trained by steps: 2 heads of width 256 (the paper: 16 of 512), batch 64
  (1024), at least `min_steps` = 1500 steps (small sets get more epochs; the warm-up keeps its
  share), rate 2e-3 * batch / 256, teacher momentum 0.99 (0.996). The EMA teacher needs steps,
  not epochs: on the birds tuning photos (588 rows, Lite0 features) the paper's batch and
  momentum gave 60-400 steps and ACC 0.61-0.83 with the loss still falling; batch 64, 1500
  steps and momentum 0.99 gave 0.97. One CIFAR-size fit at the paper's sizes would take over an
  hour on one core.
- k is capped at half the rows per cluster: 50 neighbours of a photo in a 60-photo class are
  mostly other classes (the paper's sets have 5,000+ rows per class).
- The rows are standardised per dimension before both the neighbour search and the heads (the
  paper's `--embed_norm`, used there for ImageNet), so features and autoencoder codes of any
  scale train with one learning rate; the same scaling places new rows in `predict`.
- Labels are renumbered 0..k'-1 over the clusters the best head actually uses (a head may leave a
  cluster empty), and `predict` chooses among those clusters only.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn

from core.errors import ConfigError, TrainingDiverged
from core.heads.rows import check_room, checked_rows

MIN_ROWS = 10  # fewer rows than this have no neighbourhoods worth distilling
KNN_BLOCK = 2048  # rows per block of the cosine-similarity search (keeps memory at block x N)


class MultiHead(nn.Module):
    """`n_heads` independent DINO heads, batched: (N, D) -> (n_heads, N, K) logits."""

    def __init__(self, in_dim: int, out_dim: int, n_heads: int, hidden_dim: int, bottleneck_dim: int, generator):
        super().__init__()

        def weight(*shape: int) -> nn.Parameter:
            return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=0.02, generator=generator))

        self.w1, self.b1 = weight(n_heads, in_dim, hidden_dim), nn.Parameter(torch.zeros(n_heads, 1, hidden_dim))
        self.w2 = weight(n_heads, hidden_dim, bottleneck_dim)
        self.b2 = nn.Parameter(torch.zeros(n_heads, 1, bottleneck_dim))
        # weight_norm(Linear(bottleneck, K, bias=False)): direction v, norm g filled with 1 (as DINOHead does)
        self.v = nn.Parameter(
            nn.init.kaiming_uniform_(torch.empty(n_heads, out_dim, bottleneck_dim), a=math.sqrt(5), generator=generator)
        )
        self.g = nn.Parameter(torch.ones(n_heads, out_dim, 1))

    def forward(self, x: torch.Tensor, head: int | None = None) -> torch.Tensor:
        """Every head's logits (n_heads, N, K), or one head's (N, K)."""
        pick = slice(None) if head is None else slice(head, head + 1)
        w1, b1, w2, b2, v, g = (p[pick] for p in (self.w1, self.b1, self.w2, self.b2, self.v, self.g))
        h = F.gelu(torch.baddbmm(b1, x.expand(len(w1), *x.shape), w1))
        h = F.normalize(torch.baddbmm(b2, h, w2), dim=-1)
        out = h @ (g * F.normalize(v, dim=-1)).transpose(1, 2)
        return out if head is None else out[0]


def beta_pmi(p_student: torch.Tensor, p_teacher: torch.Tensor, prior: torch.Tensor, beta: float) -> torch.Tensor:
    """-log sum_k (p_s p_t)^beta / p(k), per row (losses/loss_utils.py `beta_mi`)."""
    return -(((p_student * p_teacher) ** beta) / prior).sum(dim=-1).log()


def cosine_schedule(base: float, final: float, steps: int, warmup_steps: int) -> np.ndarray:
    """Linear warm-up from 0 to `base`, then a cosine from `base` to `final` (utils.cosine_scheduler)."""
    warmup = np.linspace(0.0, base, warmup_steps)
    rest = np.arange(steps - warmup_steps)
    return np.concatenate([warmup, final + 0.5 * (base - final) * (1 + np.cos(np.pi * rest / max(1, len(rest))))])


def nearest_neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k) indices of each row's k most cosine-similar other rows (gen_embeds.compute_neighbors)."""
    unit = F.normalize(x, dim=-1)
    out = torch.empty(len(x), k, dtype=torch.long, device=x.device)
    for start in range(0, len(x), KNN_BLOCK):
        sims = unit[start : start + KNN_BLOCK] @ unit.T
        rows = torch.arange(len(sims), device=x.device)
        sims[rows, rows + start] = -torch.inf  # exclude self-similarity
        out[start : start + KNN_BLOCK] = sims.topk(k, dim=-1).indices
    return out


def resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"TEMI: unknown device {device!r}; use 'cpu', 'cuda' or 'auto'.") from error


class TEMIClusterer(ClusterMixin, BaseEstimator):
    """Clustering heads trained on frozen features (TEMI); see the module docstring for the recipe.

    `progress(done, total)` is called after every training step; None reports nothing. Training
    uses torch's current number of threads; `device="auto"` trains on CUDA when there is one.
    After `fit`: `labels_`, `n_clusters_` (clusters the best head uses), `best_head_`, `loss_`
    (its mean loss over the last epoch), `head_losses_` (every head's), `loss_curve_` (mean
    loss of all heads per epoch), `n_neighbors_` (the k used).
    """

    min_rows = MIN_ROWS  # read by core.methods.ClusterMethod.min_rows

    def __init__(
        self,
        n_clusters: int = 10,
        random_state: int | None = 0,
        *,
        n_heads: int = 2,
        n_neighbors: int = 50,
        epochs: int = 10,
        warmup_epochs: int = 1,
        min_steps: int = 1500,
        batch_size: int = 64,
        lr: float = 2e-3,
        min_lr: float = 1e-4,
        weight_decay: float = 1e-4,
        beta: float = 0.6,
        temperature: float = 0.1,
        teacher_momentum: float = 0.99,
        prior_momentum: float = 0.9,
        hidden_dim: int = 256,
        bottleneck_dim: int = 256,
        device: str = "cpu",
        progress: Callable[[int, int], None] | None = None,
    ):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.n_heads = n_heads
        self.n_neighbors = n_neighbors
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.min_lr = min_lr
        self.weight_decay = weight_decay
        self.beta = beta
        self.temperature = temperature
        self.teacher_momentum = teacher_momentum
        self.prior_momentum = prior_momentum
        self.hidden_dim = hidden_dim
        self.bottleneck_dim = bottleneck_dim
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> None:
        def at_least(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"TEMI: {name} must be a whole number of at least {low} (got {value!r}).")

        for name, low in (("n_clusters", 2), ("n_heads", 1), ("n_neighbors", 1), ("epochs", 1), ("batch_size", 2)):
            at_least(name, low)
        for name in ("min_steps", "hidden_dim", "bottleneck_dim"):
            at_least(name, 0 if name == "min_steps" else 1)
        if not isinstance(self.warmup_epochs, (int, np.integer)) or not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"TEMI: warmup_epochs must be from 0 to epochs - 1 (got {self.warmup_epochs}).")
        for name in ("lr", "beta", "temperature"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"TEMI: {name} must be a positive number (got {value!r}).")
        for name in ("min_lr", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"TEMI: {name} must be zero or a positive number (got {value!r}).")
        for name in ("teacher_momentum", "prior_momentum"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"TEMI: {name} must be in [0, 1) (got {value!r}).")
        if self.progress is not None and not callable(self.progress):
            raise ConfigError("TEMI: progress must be a callable(done, total) or None.")

    def _check_rows(self, X) -> np.ndarray:
        return checked_rows(X, "TEMI")

    # ------------------------------------------------------------------ sklearn API

    def fit(self, X, y=None) -> TEMIClusterer:
        """Train the heads on the rows of X; `y` is ignored (there for Pipeline)."""
        for name in ("labels_", "n_clusters_", "best_head_"):
            self.__dict__.pop(name, None)  # a failed refit never leaves the last fit's labels behind
        self._check_params()
        X = self._check_rows(X)
        n = len(X)
        check_room(n, self.n_clusters, "TEMI", MIN_ROWS)
        device = resolve_device(self.device)
        seed = 0 if self.random_state is None else int(self.random_state)
        gen = torch.Generator().manual_seed(seed)

        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-6
        x = torch.from_numpy((X - self.mean_) / self.scale_).to(device)
        k = int(min(self.n_neighbors, max(1, n // self.n_clusters // 2), n - 1))
        neighbours = nearest_neighbours(x, k).cpu()

        student = MultiHead(x.shape[1], self.n_clusters, self.n_heads, self.hidden_dim, self.bottleneck_dim, gen)
        student = student.to(device)
        teacher = copy.deepcopy(student).requires_grad_(False)
        decayed = [student.w1, student.w2, student.v]
        optimizer = torch.optim.AdamW(
            [{"params": decayed}, {"params": [student.b1, student.b2, student.g], "weight_decay": 0.0}],
            lr=0.0,
            weight_decay=self.weight_decay,
        )
        batch = min(self.batch_size, n)
        steps_per_epoch = n // batch  # drop_last, as the official loader does
        # Small sets have few steps per epoch: train at least min_steps, keeping the warm-up's share.
        epochs = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
        warmup_steps = round(self.warmup_epochs / self.epochs * epochs) * steps_per_epoch
        total = epochs * steps_per_epoch
        scale = batch / 256  # the linear scaling rule of train_main.py
        lrs = cosine_schedule(self.lr * scale, self.min_lr * scale, total, warmup_steps)
        prior = torch.full((self.n_heads, 1, self.n_clusters), 1.0 / self.n_clusters, device=device)

        step, curve = 0, []
        for epoch in range(epochs):
            order = torch.randperm(n, generator=gen)
            picks = torch.randint(0, k, (n,), generator=gen)
            pairs = neighbours[torch.arange(n), picks]
            epoch_losses = torch.zeros(self.n_heads, device=device)
            for b in range(steps_per_epoch):
                rows = order[b * batch : (b + 1) * batch]
                views = torch.cat([x[rows.to(device)], x[pairs[rows].to(device)]])
                head_losses, prior = self._step_losses(student(views), teacher(views), prior, batch)
                loss = head_losses.mean()
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"TEMI training diverged at epoch {epoch + 1}, step {step + 1}: the loss became "
                        f"{loss.item()}. Lower the learning rate (lr={self.lr}) or check the input's scale."
                    )
                for group in optimizer.param_groups:
                    group["lr"] = float(lrs[step])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if epoch == 0:  # freeze_last_layer = 1 epoch
                    student.v.grad = None
                    student.g.grad = None
                optimizer.step()
                with torch.no_grad():
                    for p_s, p_t in zip(student.parameters(), teacher.parameters(), strict=True):
                        p_t.mul_(self.teacher_momentum).add_(p_s.detach(), alpha=1 - self.teacher_momentum)
                epoch_losses += head_losses.detach()
                step += 1
                if self.progress is not None:
                    self.progress(step, total)
            curve.append(float(epoch_losses.mean()) / steps_per_epoch)

        head_losses = (epoch_losses / steps_per_epoch).cpu()
        best = int(torch.argmin(head_losses))
        logits = self._logits(teacher, x, best)
        if not torch.isfinite(logits).all():
            raise TrainingDiverged("TEMI training diverged: the trained head outputs NaN or infinite values.")
        raw = logits.argmax(dim=1).cpu().numpy()
        self.teacher_ = teacher.cpu()
        self.best_head_ = best
        self.head_losses_ = head_losses.numpy()
        self.loss_ = float(head_losses[best])
        self.loss_curve_ = curve
        self.n_neighbors_ = k
        self.clusters_used_ = np.unique(raw)  # head outputs that label at least one row, in order
        self.n_clusters_ = len(self.clusters_used_)
        self.labels_ = np.searchsorted(self.clusters_used_, raw).astype(np.int64)
        return self

    def predict(self, X) -> np.ndarray:
        """The cluster (0..n_clusters_-1) of every row, by the best head of the teacher."""
        if not hasattr(self, "labels_"):
            raise ConfigError("TEMIClusterer places new rows only after fit().")
        X = self._check_rows(X)
        if X.shape[1] != len(self.mean_):
            raise ConfigError(f"TEMI was fitted on {len(self.mean_)} columns; these rows have {X.shape[1]}.")
        x = torch.from_numpy((X - self.mean_) / self.scale_)
        logits = self._logits(self.teacher_, x, self.best_head_)[:, torch.from_numpy(self.clusters_used_)]
        return logits.argmax(dim=1).numpy().astype(np.int64)

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    # ------------------------------------------------------------------ the loss

    def _step_losses(
        self, student_out: torch.Tensor, teacher_out: torch.Tensor, prior: torch.Tensor, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head TEMI losses on a batch of pairs (rows [:batch] and their neighbours [batch:]),
        and the updated EMA of the teachers' cluster probabilities (MultiHeadWeightProbBase.forward)."""
        p_student = F.softmax(student_out / self.temperature, dim=-1)
        with torch.no_grad():
            p_teacher = F.softmax(teacher_out / self.temperature, dim=-1)
            prior = prior * self.prior_momentum + p_teacher.mean(dim=1, keepdim=True) * (1 - self.prior_momentum)
            t_a, t_b = p_teacher[:, :batch], p_teacher[:, batch:]
            weight = (t_a * t_b).sum(dim=-1).mean(dim=0)  # teachers' agreement, averaged over heads
        s_a, s_b = p_student[:, :batch], p_student[:, batch:]
        losses = weight * beta_pmi(s_a, t_b, prior, self.beta) + weight * beta_pmi(s_b, t_a, prior, self.beta)
        return losses.mean(dim=1) / 2, prior

    @staticmethod
    @torch.no_grad()
    def _logits(teacher: MultiHead, x: torch.Tensor, head: int, block: int = 8192) -> torch.Tensor:
        return torch.cat([teacher(x[i : i + block], head) for i in range(0, len(x), block)])
