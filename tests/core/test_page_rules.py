"""Rules the pages read from core instead of working out themselves: how many clusters by default,
and where an uploaded image lands on a map."""

from __future__ import annotations

import numpy as np
import torch

from core.data import Dataset
from core.evaluation import Classification, Neighbor, default_n_clusters


def test_the_default_number_of_clusters_is_the_number_of_classes_else_ten():
    x = torch.zeros(6, 2)
    assert default_n_clusters(Dataset(name="t", kind="table", x=x)) == 10  # no labels
    named = Dataset(name="t", kind="table", x=x, y=torch.tensor([0, 1, 2, 0, 1, 2]), classes=["a", "b", "c"])
    assert default_n_clusters(named) == 3
    unnamed = Dataset(name="t", kind="table", x=x, y=torch.tensor([0, 1, 2, 3, 0, 1]))
    assert default_n_clusters(unnamed) == 4  # labels without class names still count


def placed(*neighbour_rows: int) -> Classification:
    blank = np.zeros((1, 1, 1), dtype=np.uint8)
    neighbours = tuple(Neighbor(index=row, label=None, distance=float(i)) for i, row in enumerate(neighbour_rows))
    return Classification(
        source="image 0", input=blank, recon=blank, cluster=0, cluster_label=None, neighbors=neighbours, error=0.0
    )


def test_an_upload_lands_on_the_map_positions_of_its_neighbours_nearest_first():
    rows = np.array([3, 8, 11, 20, 42])  # a split's map: position i shows dataset row rows[i]
    assert placed(20, 3, 42).positions_on(rows).tolist() == [3, 0, 4]


def test_neighbours_that_are_not_on_this_map_are_left_out():
    rows = np.array([3, 8, 11])
    landed = placed(5, 11, 99).positions_on(rows)
    assert landed.tolist() == [2] and landed.dtype == np.int64
    assert placed(5, 99).positions_on(rows).tolist() == []
