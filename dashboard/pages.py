"""Every page of the dashboard, in one place: app.py's navigation is built from PAGES, and every link
or switch to a page (st.page_link, st.switch_page) names the page here rather than spelling its path.

The paths are relative to app.py (the entry file), which is how st.Page, st.page_link and
st.switch_page take them; the files sit in views/, not pages/ (app.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class Page:
    path: str  # the page's script, relative to app.py
    title: str
    icon: str
    in_class: bool = True  # shown in teaching mode


DATA = Page("views/data.py", "Data", ":material/database:")
TRAIN = Page("views/train.py", "Train", ":material/model_training:")
RECONSTRUCTIONS = Page("views/reconstructions.py", "Reconstructions", ":material/compare:")
LATENT = Page("views/latent.py", "Latent space", ":material/scatter_plot:")
COMPARE = Page("views/compare.py", "Compare", ":material/compare_arrows:")
EVALUATE = Page("views/evaluate.py", "Evaluate", ":material/analytics:")
RUNS = Page("views/runs.py", "Runs", ":material/history:")
SWEEPS = Page("views/sweeps.py", "Sweeps", ":material/tune:", in_class=False)  # many runs at once: not for a class

PAGES = (DATA, TRAIN, RECONSTRUCTIONS, LATENT, COMPARE, EVALUATE, RUNS, SWEEPS)  # sidebar order; the first opens first


def navigation(teaching: bool) -> list[Any]:
    """The st.Page of every page to show (the first is the default)."""
    shown = [page for page in PAGES if page.in_class or not teaching]
    return [st.Page(page.path, title=page.title, icon=page.icon, default=i == 0) for i, page in enumerate(shown)]


def link(page: Page, label: str | None = None, *, icon: str | None = None, container: Any = st) -> None:
    """st.page_link to a page, labelled with its title and icon unless told otherwise."""
    container.page_link(page.path, label=label or page.title, icon=icon or page.icon)


def switch(page: Page) -> None:
    st.switch_page(page.path)
