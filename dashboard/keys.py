"""Session-state keys, declared once per page: a widget's key, or a value a page keeps across reruns.

A key the link registry (dashboard.links) fills, or that more than one module reads, is named here
and imported where used, so a typo is an AttributeError instead of a widget that silently forgets.
Keys ending in '.' are prefixes, completed with a run, a split or an edit's revision.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LatentKeys:
    # the map's controls (a link fills these: dashboard.links.map_params)
    split: str = "latent.split"
    method: str = "latent.method"
    dims: str = "latent.dims"
    colour: str = "latent.colour"
    clusterer: str = "latent.clusterer"
    k: str = "latent.k"
    k_stand_in: str = "latent.k_stand_in"  # the number of clusters used while the groups were being counted
    sort_choice_applied: str = "latent.sort_choice_applied"  # (run, split, k) whose chosen clustering was applied
    clusterer_switch: str = "latent.clusterer_switch"  # the chosen clustering, for the Clusters box on the rerun
    tile: str = "latent.tile"
    umap_neighbours: str = "latent.nn"
    umap_min_dist: str = "latent.md"
    # the map and what clicking it shows
    map: str = "latent.map."  # + run id, split: the 2-D map (its selection)
    map3d: str = "latent.map3d."  # + run id, split
    link_point: str = "latent.link_point"  # a link's clicked point, until the page knows its run and split
    focus: str = "latent.focus"  # (run id, split, position) of the point last clicked on the map
    neighbours: str = "latent.neighbours"
    space: str = "latent.space"
    clear_focus: str = "latent.clear_focus"
    upload: str = "latent.upload"  # an image of the user's own
    mix: str = "latent.mix"
    # the training replay
    replay_epoch: str = "latent.replay.epoch"
    replay_playing: str = "latent.replay.playing"
    replay_followed: str = "latent.replay.followed"  # the newest epoch when last drawn
    replay_play: str = "latent.replay.play"
    replay_map: str = "latent.replay.map"
    # the clusters: galleries, edits, downloads
    name: str = "latent.sort.name."  # + run, clusterer, k, cluster, edits' revision: a cluster's name box
    suggest: str = "latent.sort.suggest."  # + the same: the button taking a cluster's suggested name
    merge_from: str = "latent.sort.merge_from."  # + edits' revision
    merge_into: str = "latent.sort.merge_into."
    merge: str = "latent.sort.merge"
    move_to: str = "latent.sort.move_to."
    move: str = "latent.sort.move"
    undo: str = "latent.sort.undo"
    undo_other: str = "latent.sort.undo_other"
    switch: str = "latent.sort.switch"
    # name a few, the rest follow (dashboard.latent.spread)
    spread_group: str = "latent.spread.group."  # + the examples' revision: the name to give the selection
    spread_name: str = "latent.spread.name"
    spread_forget: str = "latent.spread.forget"
    spread_yes: str = "latent.spread.yes."  # + row: confirm the guess
    spread_no: str = "latent.spread.no."  # + row, revision: correct it
    sorted_zip: str = "latent.sorted_zip"
    clusters_csv: str = "latent.clusters_csv"
    clusters_parquet: str = "latent.clusters_parquet"
    # near-duplicates
    duplicates: str = "latent.duplicates"  # the toggle: look for them, and set them aside in the sorted zip
    keeper: str = "latent.keeper."  # + run, group's first row, keepers' revision: which photo to keep
    # the odd ones out
    outliers: str = "latent.outliers"  # the toggle: score every row's oddness (and, with labels, the mislabels)
    # the tour for the report (dashboard.latent.tour)
    tour_caption: str = "latent.tour.caption"  # what the author says about the view being added
    tour_add: str = "latent.tour.add"
    tour_step: str = "latent.tour.step."  # + the tour's revision, step: a step's caption box (and its buttons)
    tour_said: str = "latent.tour.said"  # why the last change to the tour could not be saved


@dataclass(frozen=True)
class TrainKeys:
    preset: str = "train.preset"
    recipe: str = "train.recipe"  # why best-quality chose what it chose, shown under the buttons
    saved: str = "train.saved"  # the form's values, brought back when the page is opened again
    name: str = "train.name"
    backbone: str = "f.backbone"  # the 'Pretrained features' select
    model_prefix: str = "m."  # + a ModelConfig field: its widget
    train_prefix: str = "t."  # + a TrainConfig field: its widget

    def model(self, field: str) -> str:
        """The widget key of a ModelConfig field."""
        return self.model_prefix + field

    def train(self, field: str) -> str:
        """The widget key of a TrainConfig field."""
        return self.train_prefix + field


@dataclass(frozen=True)
class CompareKeys:
    # which view each side shows, and how it is drawn (a link fills these: dashboard.compare.choice)
    left: str = "compare.left"
    right: str = "compare.right"
    method: str = "compare.method"
    map: str = "compare.map."  # + side: each map (its selection)
    selected: str = "compare.selected"  # (what was compared, positions): the rows selected on either map
    select_movers: str = "compare.select_movers"  # the button that selects the movers on both maps


LATENT = LatentKeys()
COMPARE = CompareKeys()
TRAIN = TrainKeys()
