"""An evaluation as text a person reads in a terminal (the CLI's `evaluate`); the rows come from
core.evaluation.tables, like the report's and the Evaluate page's."""

from __future__ import annotations

from core.evaluation.result import EvaluationResult
from core.evaluation.tables import CLUSTERING_NAMES, clustering_table, fmt, probes_table, quality_table, skipped_lines


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def n2d_line(result: EvaluationResult) -> str:
    """The headline, printed as soon as N2D has run: 'N2D: UMAP of codes + GMM: ACC 0.812, NMI ...'."""
    scores = (result.clustering or {}).get("n2d")
    name = CLUSTERING_NAMES["n2d"]
    if scores is not None and scores.skipped:
        return f"{name}: skipped ({scores.skipped})"
    numbers = ", ".join(f"{key} {fmt(getattr(scores, key.lower(), None))}" for key in ("ACC", "NMI", "ARI"))
    return f"{name}: {numbers} on {result.n} {result.split} rows ({fmt(getattr(scores, 'seconds', None), 1)} s)"


def sorted_by_line(result: EvaluationResult) -> str:
    """'Sorted by: N2D: UMAP of backbone features + GMM (n2d-features)': what the page and export use by default."""
    name = CLUSTERING_NAMES.get(result.sorted_by, result.sorted_by)
    line = f"Sorted by (the Latent space page and export, by default): {name} ({result.sorted_by})"
    choice = result.extra.get("sort_choice")
    if isinstance(choice, dict) and choice.get("scores"):  # chosen without labels, among the candidates
        scored = ", ".join(f"{m} {s:.3f}" for m, s in choice["scores"].items() if s is not None)
        line += f", the candidate whose groups keep their neighbours best (modularity: {scored})"
    return line


def group_count_lines(result: EvaluationResult) -> list[str]:
    """The estimated number of groups and its curve, beside the number of clusters scored."""
    count = result.group_count
    if count is None:
        reason = result.extra.get("group_count_skipped")
        return [f"Number of groups: not estimated ({reason})"] if reason else []
    scored = "the number of classes" if result.labelled else "the default; --clusters sets another"
    curve = "  ".join(f"{k}:{fmt(s, 2)}" for k, s in zip(count.candidates, count.scores))
    found = "  ".join(f"{k}:{fmt(q, 3)}" for k, q in count.found)
    return [
        f"Number of groups, estimated without labels: {count.estimate} ({count.method}); "
        f"scored with {result.n_clusters} clusters ({scored})",
        f"  modularity of spectral clustering per k: {curve}",
        *([f"  Leiden's partitions of {len(count.found)} samples (groups, modularity): {found}"] if found else []),
    ]


def format_evaluation(result: EvaluationResult) -> str:
    seconds = f" ({result.seconds:.1f} s)" if result.seconds is not None else ""
    lines = [
        f"Evaluation of run {result.run_id} on {result.dataset}, {result.split} split: "
        f"{result.n} rows, {result.n_clusters} clusters, codes of {result.latent_dim} dims{seconds}",
        *group_count_lines(result),
        "",
        "Clustering (ACC: best one-to-one match of clusters to labels)",
        *table(clustering_table(result).formatted()),
        *(["(baselines left out on request)"] if "baselines" in result.left_out else []),
        *([f"(raw inputs: PCA-{reduced}, randomized, seeded)"] if (reduced := result.extra.get("raw_pca")) else []),
        *([sorted_by_line(result)] if result.sorted_by else []),
        "",
    ]
    if "probes" in result.left_out:
        lines.append("Probes: left out on request")
    elif result.labelled:
        protocol = result.probes.protocol if result.probes else None
        lines += [
            f"Probes: accuracy of classifiers on the features ({protocol})",
            *table(probes_table(result).formatted()),
        ]
    else:
        lines += [
            "Probes: accuracy of classifiers on the features",
            "(no labels: clustering accuracy and probes need labels)",
        ]
    lines += [
        "",
        "Reconstruction and the 2-D UMAP map (trustworthiness: k=5 neighbours kept)",
        *table(quality_table(result).formatted()),
    ]
    if skipped_lines(result):
        lines += ["", "Skipped (too few rows):", *[f"  {line}" for line in skipped_lines(result)]]
    return "\n".join(lines)
