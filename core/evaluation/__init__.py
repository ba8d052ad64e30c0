"""How good are the codes? Clustering against labels, probes, baselines, reconstruction quality.

Arrays in, plain dicts out, `random_state` wherever there is randomness:

    from core.evaluation import cluster_accuracy, clustering_scores, probe_scores
    from core.evaluation import evaluate_run, load_evaluation, classify_images

Modules: clustering (metrics, every method compared, baselines; the estimators themselves are
core.clusterers), probes, reconstruction, run_evaluation (one run as named steps, N2D first,
stored as evaluation-<split>.json), result (EvaluationResult, the typed value and its JSON),
tables (its table rows, for every reader), progress (the steps' events and ETA), background (an
evaluation in a thread a UI watches), classify (new images), text (the CLI's).
"""

from core.evaluation.classify import Classification, Neighbor, classify_images, preprocess_image
from core.evaluation.clustering import (
    cluster_accuracy,
    clustering_baselines,
    clustering_scores,
    compare_clusterings,
    confusion,
    majority_labels,
    run_methods,
    sorted_by,
)
from core.evaluation.probes import PROBES, probe_cv_scores, probe_scores
from core.evaluation.progress import EvalProgress
from core.evaluation.reconstruction import (
    per_sample_quality,
    reconstruct,
    reconstruction_errors,
    reconstruction_quality,
)
from core.evaluation.result import ClusteringScores, EvaluationResult
from core.evaluation.run_evaluation import (
    default_n_clusters,
    evaluate_run,
    evaluation_steps,
    load_evaluation,
    run_clusters,
    trustworthiness_of_map,
)
from core.evaluation.text import format_evaluation

__all__ = [
    "Classification",
    "Neighbor",
    "classify_images",
    "preprocess_image",
    "cluster_accuracy",
    "clustering_baselines",
    "clustering_scores",
    "compare_clusterings",
    "confusion",
    "majority_labels",
    "run_methods",
    "sorted_by",
    "PROBES",
    "probe_cv_scores",
    "probe_scores",
    "per_sample_quality",
    "reconstruct",
    "reconstruction_errors",
    "reconstruction_quality",
    "EvalProgress",
    "default_n_clusters",
    "evaluate_run",
    "evaluation_steps",
    "load_evaluation",
    "run_clusters",
    "trustworthiness_of_map",
    "format_evaluation",
    "ClusteringScores",
    "EvaluationResult",
]
