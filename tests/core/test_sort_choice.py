"""core.sort_choice: of candidate partitions, the one whose groups keep their neighbours best (modularity on
the rows' neighbour graph) is chosen, with no labels; ties and unscorable partitions keep the default."""

from __future__ import annotations

import numpy as np
import pytest

from core.sort_choice import HEAD_ROWS, PHOTO_CANDIDATES, SortChoice, choose_sorting, modularity_scores, sort_candidates


@pytest.fixture(scope="module")
def three_groups() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 60)
    rows = rng.normal(size=(180, 12)) + 6.0 * np.eye(3, 12)[truth]
    return rows, truth


def test_the_partition_that_follows_the_groups_is_chosen(three_groups):
    rows, truth = three_groups
    merged = np.where(truth == 2, 1, truth)  # two groups as one
    shuffled = np.random.default_rng(1).permutation(truth)  # as many groups, at random
    choice = choose_sorting(("merged", "truth", "shuffled"), [merged, truth, shuffled], rows)
    assert choice.method == "truth"
    assert choice.scores[1] > choice.scores[0] > choice.scores[2]
    assert choice.to_dict()["scores"]["truth"] == round(choice.scores[1], 4)


def test_a_tie_keeps_the_default_the_first_candidate(three_groups):
    rows, truth = three_groups
    relabelled = (truth + 1) % 3  # the same partition under other numbers
    assert choose_sorting(("default", "other"), [truth, relabelled], rows).method == "default"


def test_a_partition_with_noise_or_one_group_is_not_scored_and_never_chosen(three_groups):
    rows, truth = three_groups
    noisy = truth.copy()
    noisy[:5] = -1  # HDBSCAN's noise: modularity has no group for it
    scores = modularity_scores([noisy, np.zeros_like(truth), truth], rows)
    assert np.isnan(scores[0]) and np.isnan(scores[1]) and not np.isnan(scores[2])
    assert SortChoice.from_scores(("a", "b", "c"), scores).method == "c"
    assert SortChoice.from_scores(("a", "b"), [np.nan, np.nan]).method == "a"  # nothing scored: the default


def test_a_partition_of_other_rows_is_refused(three_groups):
    rows, truth = three_groups
    with pytest.raises(ValueError, match="a partition of 179 rows for 180 rows"):
        modularity_scores([truth[:-1]], rows)


def test_only_runs_on_features_choose(three_groups):
    class Features:
        def __init__(self, backbone):
            self.backbone = backbone

    class Config:
        def __init__(self, backbone):
            self.features = Features(backbone)

    assert sort_candidates(Config("efficientnet-lite0")) == PHOTO_CANDIDATES
    assert sort_candidates(Config(None)) == ("n2d",)
    # A TEMI head joins on enough rows for neighbourhoods of a group's own kind, and not so many that
    # its training and memory go unmeasured; never for a run on pixels.
    low, high = HEAD_ROWS.start, HEAD_ROWS.stop - 1
    assert sort_candidates(Config("efficientnet-lite0"), low - 1) == PHOTO_CANDIDATES
    assert sort_candidates(Config("efficientnet-lite0"), low) == (*PHOTO_CANDIDATES, "temi-features")
    assert sort_candidates(Config("efficientnet-lite0"), high) == (*PHOTO_CANDIDATES, "temi-features")
    assert sort_candidates(Config("efficientnet-lite0"), high + 1) == PHOTO_CANDIDATES
    assert sort_candidates(Config(None), low) == ("n2d",)
    line = SortChoice.from_scores(PHOTO_CANDIDATES, [0.5, 0.7, 0.6]).line()
    assert line.startswith("sorted by N2D (UMAP + GMM): of the candidates") and "0.700" in line
