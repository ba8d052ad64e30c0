"""The rows of an evaluation's tables, built once for every reader: the CLI's text
(core.evaluation.text), the HTML report (core.report) and the Evaluate page (via
core.figures.table_frame). Each reader only formats them.

    table = clustering_table(result)        # Table(columns, rows); rows carry numbers, not strings
    table.formatted()                       # [header, row, ...] as strings, "-" for a missing number
"""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluation.result import EvaluationResult, ReconstructionQuality
from core.methods import CLUSTER_METHODS

CLUSTERING_NAMES = {name: method.summary for name, method in CLUSTER_METHODS.items()}  # core.methods' row names
BASELINE_NAMES = {
    "kmeans_raw": "k-means on raw inputs",
    "kmeans_pca": "k-means on PCA",
    "umap_gmm_raw": "UMAP of raw inputs + GMM",
    "kmeans_features": "k-means on backbone features",
    "umap_gmm_features": "UMAP of backbone features + GMM",
}
FEATURE_NAMES = {
    "codes": "autoencoder codes",
    "raw": "raw inputs",
    "pca": "PCA (as many dims as the codes)",
    "features": "backbone features",
}
PROBE_NAMES = {"knn": "kNN (k=5)", "logistic": "logistic", "random_forest": "random forest"}
REDUCED_NAMES = {  # the rows that read wide raw inputs through PCA (result key raw_pca) say so
    "kmeans_raw": "k-means on raw inputs (PCA-{k})",
    "umap_gmm_raw": "UMAP of raw inputs (PCA-{k}) + GMM",
    "raw": "raw inputs (PCA-{k})",
}


def _name(key: str, names: dict[str, str], result: EvaluationResult) -> str:
    """A row's label; "raw inputs (PCA-50)" where the evaluation reduced wide raw inputs first."""
    components = result.extra.get("raw_pca")
    if components and key in REDUCED_NAMES:
        return REDUCED_NAMES[key].format(k=components)
    return names.get(key, key)


Number = float | int | None


def fmt(value: object, digits: int = 3) -> str:
    """A number as a table shows it: `digits` decimals for floats, "-" when there is none."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[Number, ...]
    baseline: bool = False  # a no-autoencoder baseline, shown apart


@dataclass(frozen=True)
class Table:
    """`columns[0]` names the row labels; `digits[i]` is how finely `columns[i + 1]` is shown."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    digits: tuple[int, ...]

    def formatted(self) -> list[tuple[str, ...]]:
        """The header, then every row as strings."""
        return [
            self.columns,
            *[(row.label, *[fmt(v, d) for v, d in zip(row.values, self.digits)]) for row in self.rows],
        ]


def clustering_table(result: EvaluationResult) -> Table:
    """Every clustering of the codes, then the baselines, scored alike."""
    rows = []
    for rows_of, names, baseline in (
        (result.clustering, CLUSTERING_NAMES, False),
        (result.baselines, BASELINE_NAMES, True),
    ):
        for key, s in (rows_of or {}).items():
            rows.append(
                Row(
                    _name(key, names, result) + (" (baseline)" if baseline else ""),
                    (s.acc, s.nmi, s.ari, s.silhouette, s.n_clusters, s.seconds),
                    baseline,
                )
            )
    return Table(
        ("pipeline", "ACC", "NMI", "ARI", "silhouette", "clusters", "seconds"), tuple(rows), (3, 3, 3, 3, 3, 1)
    )


def probes_table(result: EvaluationResult) -> Table:
    """Probe accuracy per representation: held out, then cross-validated (CV)."""
    probes = result.probes
    names = list(PROBE_NAMES)
    columns = ("features", *[PROBE_NAMES[p] for p in names], *[f"{PROBE_NAMES[p]} CV" for p in names])
    rows = []
    for feature, scores in (probes.held_out if probes else {}).items():
        cv = probes.cross_validated.get(feature) or {}
        rows.append(
            Row(
                _name(feature, FEATURE_NAMES, result),
                (*[(scores or {}).get(p) for p in names], *[cv.get(p) for p in names]),
            )
        )
    return Table(columns, tuple(rows), (3,) * (2 * len(names)))


def quality_table(result: EvaluationResult) -> Table:
    """One row: reconstruction error (PSNR / SSIM for pictures) and the map's trustworthiness."""
    rec = result.reconstruction or ReconstructionQuality()
    columns, values, digits = ["split", "reconstruction MSE"], [rec.mse], [5]
    if rec.psnr is not None or rec.ssim is not None:
        columns += ["PSNR (dB)", "SSIM"]
        values += [rec.psnr, rec.ssim]
        digits += [2, 3]
    columns.append("map trustworthiness")
    values.append(result.map.trustworthiness if result.map else None)
    digits.append(3)
    return Table(tuple(columns), (Row(str(result.split), tuple(values)),), tuple(digits))


def skipped_lines(result: EvaluationResult) -> list[str]:
    """One line per method that could not run on so few rows: "clustering.hdbscan: needs at least 5 rows, ..."."""
    return [f"{what}: {why}" for what, why in result.skipped.items()]
