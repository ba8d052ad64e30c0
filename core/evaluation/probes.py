"""Linear and non-linear probes: how much label information the features hold for a simple classifier.

Every probe sees the same features; knn and logistic standardise them inside a Pipeline (so the
scaler is fitted on the training fold only). A random forest needs no scaling.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PROBE_TRAIN_MAX = 10_000  # probes train on a stratified sample of at most this many rows
CV_FOLDS = 3
CV_MAX = 5_000  # cross-validation runs on a stratified sample of at most this many rows


def _knn(random_state: int | None) -> ClassifierMixin:
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))


def _logistic(random_state: int | None) -> ClassifierMixin:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=random_state))


def _random_forest(random_state: int | None) -> ClassifierMixin:
    return RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=random_state)


PROBES: dict[str, Callable[[int | None], ClassifierMixin]] = {
    "knn": _knn,
    "logistic": _logistic,
    "random_forest": _random_forest,
}


def stratified_sample(y: np.ndarray, size: int, random_state: int | None = 0) -> np.ndarray:
    """Sorted row indices of a class-stratified sample of `size` rows (all rows if fewer)."""
    y = np.asarray(y)
    if len(y) <= size:
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    try:
        index, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=random_state)
    except ValueError:  # a class with a single member cannot be stratified
        index = np.random.default_rng(random_state).choice(len(y), size, replace=False)
    return np.sort(index)


def _fit_quietly(model: ClassifierMixin, x: np.ndarray, y: np.ndarray) -> ClassifierMixin:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a probe that stops early still measures
        return model.fit(x, y)


def _probe_model(name: str, n_train: int, random_state: int | None) -> ClassifierMixin:
    model = PROBES[name](random_state)
    if name == "knn":  # k cannot exceed the training rows
        model.set_params(kneighborsclassifier__n_neighbors=max(1, min(5, n_train)))
    return model


def probe_skip_reason(y_train: np.ndarray) -> str | None:
    """Why no probe can be fitted on these training labels, or None."""
    classes = len(np.unique(np.asarray(y_train)))
    if classes < 2:
        return f"the probes' training rows hold {classes} class{'es' if classes != 1 else ''}; a classifier needs two"
    return None


def cv_skip_reason(y: np.ndarray, folds: int = CV_FOLDS) -> str | None:
    """Why stratified cross-validation cannot run on these labels, or None."""
    _, counts = np.unique(np.asarray(y), return_counts=True)
    if len(counts) < 2:
        return f"cross-validation needs two classes, the rows hold {len(counts)}"
    if min(folds, counts.min()) < 2:
        return f"cross-validation needs every class in at least 2 rows; the smallest has {counts.min()}"
    return None


def probe_scores(
    features_train: np.ndarray,
    y_train: np.ndarray,
    features_test: np.ndarray,
    y_test: np.ndarray,
    random_state: int | None = 0,
) -> dict[str, float]:
    """{"knn": acc, "logistic": acc, "random_forest": acc}: fit on train, accuracy on test."""
    xtr, ytr = np.asarray(features_train, dtype=np.float32), np.asarray(y_train)
    xte, yte = np.asarray(features_test, dtype=np.float32), np.asarray(y_test)
    keep = stratified_sample(ytr, PROBE_TRAIN_MAX, random_state)
    xtr, ytr = xtr[keep], ytr[keep]
    out = {}
    for name in PROBES:
        if probe_skip_reason(ytr):
            out[name] = None
            continue
        model = _fit_quietly(_probe_model(name, len(ytr), random_state), xtr, ytr)
        out[name] = float(np.mean(model.predict(xte) == yte))
    return out


def probe_cv_scores(
    features: np.ndarray, y: np.ndarray, random_state: int | None = 0, folds: int = CV_FOLDS
) -> dict[str, float | None]:
    """{"knn": mean acc, ...}: stratified k-fold accuracy on (a sample of at most CV_MAX of) the rows.

    None when some class has fewer rows than two folds need.
    """
    x, y = np.asarray(features, dtype=np.float32), np.asarray(y)
    keep = stratified_sample(y, CV_MAX, random_state)
    x, y = x[keep], y[keep]
    if cv_skip_reason(y, folds):
        return {name: None for name in PROBES}
    _, counts = np.unique(y, return_counts=True)
    folds = int(min(folds, counts.min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in PROBES:
            model = _probe_model(name, len(y) - len(y) // folds, random_state)
            out[name] = float(np.mean(cross_val_score(model, x, y, cv=splitter)))
    return out
