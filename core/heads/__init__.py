"""Clustering heads trained on frozen representations (backbone features or autoencoder codes).

Each is a scikit-learn estimator (fit / predict / fit_predict, `labels_`, `n_clusters_`) that
reports its training steps through an optional `progress(done, total)` callable.
"""

from core.heads.temi import TEMIClusterer
from core.heads.turtle import TURTLEClusterer

__all__ = ["TEMIClusterer", "TURTLEClusterer"]
