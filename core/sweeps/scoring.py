"""How a sweep picks its best trial without labels, and the labelled check shown beside it.

The criterion is the plain reconstruction MSE of the clean validation rows through
decode(encode(x)), measured the same way for every trial after it trained:

- Each trial's own validation loss is not comparable across trials: a VAE's adds a KL term, a
  sparse model's an L1 penalty, a BCE model's is a cross-entropy. decode(encode(x)) with the
  posterior mean and no input noise or pose changes is the one quantity every family and every
  corruption defines alike, so it ranks them on one scale.
- It needs no labels and costs one forward pass over the validation rows (seconds, on any node).
  Silhouette or GMM likelihood on the N2D manifold also need no labels, but they need a UMAP per
  trial and move with UMAP's seed and the number of clusters one assumes; they are better read as
  checks than trusted as the one number that picks.
- Its known bias: a larger code reconstructs better, and a denoising / augmented model trades
  clean reconstruction for more robust codes. So the best by this score is the most faithful
  autoencoder, not necessarily the one that clusters best; the ACC / NMI check (N2D on the
  validation codes, only where labels exist) is shown beside it to see when those disagree.

While a trial trains, early stopping watches the trainer's validation reconstruction part
(`val_parts["recon"]`, computed in eval mode on the clean rows): for MSE-loss models that is
exactly this score at each epoch, and a sweep keeps one loss kind (see core.sweeps.space).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCORE_NAME = "val_recon_mse"
SCORE_TEXT = "validation reconstruction MSE (clean inputs, lower is better)"


def epoch_score(event: Any) -> float | None:
    """What early stopping compares at the end of an epoch: the clean validation reconstruction part."""
    for parts, whole in ((event.val_parts, event.val_loss), (event.parts, event.train_loss)):
        if whole is not None:
            return float(parts.get("recon", whole))
    return None


def score_run(run: Any, check: bool = True, random_state: int = 0) -> tuple[float, dict[str, float]]:
    """(score, check) of a trained run: the criterion above on its validation rows (its test rows
    when it has none), and N2D's ACC / NMI on the same rows' codes when the dataset has labels.

    The check reuses core.evaluation's N2D (UMAP to n_classes dims, then the best of several GMMs),
    so its numbers read like the Evaluate page's, on the smaller validation split.
    """
    from core.clusterers import clusterer
    from core.evaluation import cluster_accuracy, default_n_clusters, reconstruction_errors
    from core.trained import load_trained

    trained = load_trained(run)
    rows = trained.splits.val if len(trained.splits.val) else trained.splits.test
    inputs = trained.inputs[rows]
    score = float(np.mean(reconstruction_errors(trained.model, inputs)))
    checks: dict[str, float] = {}
    y = trained.dataset.y
    if check and y is not None and len(rows) >= 20:
        from sklearn.metrics import normalized_mutual_info_score

        from core.encoding import encode

        labels = y.numpy()[rows]
        pred = clusterer("n2d", default_n_clusters(trained.dataset), random_state).fit_predict(
            encode(trained.model, inputs)
        )
        checks = {"acc": cluster_accuracy(labels, pred), "nmi": float(normalized_mutual_info_score(labels, pred))}
    return score, checks
