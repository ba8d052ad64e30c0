"""Latent space: the codes as a UMAP / PCA / t-SNE map coloured by label, cluster or error;
hover a point to see its picture; click one to see its nearest neighbours in the code (and, for
feature runs, in the backbone's features); select several (box or lasso) to see their images and
the mix of labels among them. The training replay below steps through the map of a fixed sample's
codes epoch by epoch (live while the run trains).

Below the map, naming a few photos so the rest follow (dashboard.latent.spread), then the clusters
themselves: a gallery of each (the original photos, for a folder) and the file -> cluster table to
download. For someone sorting a folder of photos, that is the product.
Then the near-duplicates, with the best shot of each group kept, and the odd ones out (both off until
asked for). While the run still trains, only the map and the replay follow it: the groups, names and
clusters of a checkpoint about to be replaced would cost the server minutes for nothing. Just under
the map, the tour for the report: this view, with a caption, kept as a step (dashboard.latent.tour).

The page only draws its parts in order; each lives in dashboard.latent.
"""

from __future__ import annotations

import streamlit as st

from core.evaluation import run_methods, sorted_by
from dashboard import links, state
from dashboard.components import page_header, user_errors
from dashboard.latent.clusters import clusters_section
from dashboard.latent.controls import controls, default_clusters
from dashboard.latent.duplicates import duplicates_section
from dashboard.latent.groups import counted_groups, groups_section
from dashboard.latent.map import map_section
from dashboard.latent.outliers import outliers_section
from dashboard.latent.replay import replay_section
from dashboard.latent.sorted_by import opening_clusterer, sort_choice_section
from dashboard.latent.spread import spread_section
from dashboard.latent.tour import tour_section

links.notice(links.read_url(links.map_params()))  # before the widgets: the split picker is the first
shown = page_header(
    "Latent space",
    "Each point is one sample's code, squeezed to 2-D or 3-D. Samples the model finds similar sit together.",
    "latent",
)
if shown is not None:
    run, trained, split = shown
    # The clustering the run sorts by (its choice when made, else N2D on the backbone's features for photos,
    # on the codes otherwise): the one `evaluate` names as sorted_by and `latentboard export` uses by default.
    offered = list(run_methods(run.config, heads=True))
    ready = state.stored_group_count(run, split)  # None until counted: the map does not wait for the count
    estimate = getattr(ready, "estimate", None)
    opened_on = opening_clusterer(run, split, default_clusters(trained.dataset, estimate), sorted_by(run.config))
    settings = controls(trained.dataset, preferred=opened_on, clusterers=offered, estimate=estimate)
    picked = map_section(run, trained, split, settings)  # the first chart on the page: the map
    if picked is not None:
        with user_errors("Tour"):
            tour_section(run, split, settings, picked)  # keep this view, with a caption, for the report
        with user_errors("Training replay"):
            replay_section(run, trained.dataset, settings)
        if state.is_running(run.id):  # the replay reruns the whole page once training ends
            st.info(
                "The number of groups, the clusters, their names, the near-duplicates and the odd ones out "
                "appear here when the run has finished training.",
                icon=":material/hourglass_top:",
            )
        else:
            count = counted_groups(run, split, trained.dataset, settings, ready)
            groups_section(trained.dataset, count, settings)  # how many groups, just before the groups
            with user_errors("Choosing the clustering"):
                sort_choice_section(run, split, settings, opened_on)  # may rerun once, onto the run's choice
            with user_errors("Naming"):
                spread_section(run, trained, split, settings, picked)
            with st.spinner("Sorting into clusters…"), user_errors("Clustering"):
                clusters_section(run, trained, split, settings, picked)
            duplicates_section(run, trained, settings)
            outliers_section(run, trained, split, settings)
        state.write_sprites(run, split)  # after the map is on screen: the first hover fetches them
