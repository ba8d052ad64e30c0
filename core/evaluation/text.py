"""An evaluation dict as a table a person reads in a terminal (the CLI's `evaluate`)."""

from __future__ import annotations

from typing import Any

from core.methods import CLUSTER_METHODS

CLUSTERING_NAMES = {name: method.summary for name, method in CLUSTER_METHODS.items()}
BASELINE_NAMES = {
    "kmeans_raw": "k-means on raw inputs",
    "kmeans_pca": "k-means on PCA",
    "umap_gmm_raw": "UMAP of raw inputs + GMM",
    "kmeans_features": "k-means on backbone features",
    "umap_gmm_features": "UMAP of backbone features + GMM",
}
FEATURE_NAMES = {"codes": "codes", "raw": "raw inputs", "pca": "PCA", "features": "backbone features"}
PROBE_NAMES = {"knn": "kNN (k=5)", "logistic": "logistic", "random_forest": "random forest"}


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def clustering_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = [("pipeline", "ACC", "NMI", "ARI", "silhouette", "clusters", "seconds")]
    for group, names in (("clustering", CLUSTERING_NAMES), ("baselines", BASELINE_NAMES)):
        for key, scores in result.get(group, {}).items():
            label = names.get(key, key) + (" (baseline)" if group == "baselines" else "")
            rows.append((label, fmt(scores.get("acc")), fmt(scores.get("nmi")), fmt(scores.get("ari")),
                         fmt(scores.get("silhouette")), fmt(scores.get("n_clusters")), fmt(scores.get("seconds"), 1)))
    return rows


def probe_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    probes, cv = result.get("probes", {}), result.get("probes_cv", {})
    names = list(PROBE_NAMES)
    rows = [("features", *[PROBE_NAMES[p] for p in names], *[f"{PROBE_NAMES[p]} CV" for p in names])]
    for feature, scores in probes.items():
        rows.append((FEATURE_NAMES.get(feature, feature), *[fmt(scores.get(p)) for p in names],
                     *[fmt(cv.get(feature, {}).get(p)) for p in names]))
    return rows


def skipped_lines(result: dict[str, Any]) -> list[str]:
    """One line per method that could not run on so few rows: "hdbscan: needs at least 5 rows, ..."."""
    return [f"{what}: {why}" for what, why in (result.get("skipped") or {}).items()]


def n2d_line(result: dict[str, Any]) -> str:
    """The headline, printed as soon as N2D has run: 'N2D: UMAP of codes + GMM: ACC 0.812, NMI ...'."""
    scores = (result.get("clustering") or {}).get("n2d") or {}
    name = CLUSTERING_NAMES["n2d"]
    if scores.get("skipped"):
        return f"{name}: skipped ({scores['skipped']})"
    numbers = ", ".join(f"{key} {fmt(scores.get(key.lower()))}" for key in ("ACC", "NMI", "ARI"))
    return f"{name}: {numbers} on {result.get('n')} {result.get('split')} rows ({fmt(scores.get('seconds'), 1)} s)"


def format_evaluation(result: dict[str, Any]) -> str:
    lines = [
        f"Evaluation of run {result.get('run_id')} on {result.get('dataset')}, {result['split']} split: "
        f"{result['n']} rows, {result['n_clusters']} clusters, codes of {result.get('latent_dim')} dims "
        f"({result['seconds']:.1f} s)",
        "",
        "Clustering (ACC: best one-to-one match of clusters to labels)",
        *table(clustering_rows(result)),
        *(["(baselines left out on request)"] if "baselines" in (result.get("left_out") or ()) else []),
        "",
        f"Probes: accuracy of classifiers on the features ({result.get('probe_protocol')})",
    ]
    if "probes" in (result.get("left_out") or ()):
        lines[-1] = "Probes: left out on request"
    elif result.get("has_labels", True):
        lines += table(probe_rows(result))
    else:
        lines.append("(no labels: clustering accuracy and probes need labels)")
    rec = result.get("reconstruction", {})
    lines += [
        "",
        "Reconstruction: MSE " + fmt(rec.get("mse"), 5)
        + (f", PSNR {fmt(rec.get('psnr'), 2)} dB, SSIM {fmt(rec.get('ssim'))}" if rec.get("psnr") is not None else ""),
        f"2-D UMAP map trustworthiness (k=5): {fmt(result.get('trustworthiness'))}",
    ]
    if skipped_lines(result):
        lines += ["", "Skipped (too few rows):", *[f"  {line}" for line in skipped_lines(result)]]
    return "\n".join(lines)
