"""Latentboard's dashboard: `streamlit run dashboard/app.py` (or `latentboard serve`).

The entry file only configures the page, starts UMAP's warm-up and hands over to st.navigation;
each page lives in views/ (listed in dashboard.pages) and shares code through dashboard.components and dashboard.state.

A link carries the view (see dashboard.links): it is checked here against every page's settings
before any page runs, the dataset and teaching mode are read here (every page needs them), and the
sidebar ends with the link to what is on screen, to copy.

The page files sit in views/, not pages/: Streamlit treats a pages/ folder beside the entry file as
an old-style multipage app until st.navigation has run once, so the first request after a server
start for /latent?run=... would run that page without this file (no set-up, no navigation).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # streamlit puts dashboard/ on the path, the pages import dashboard.*
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import components, links, pages, state, trainform  # noqa: E402
from dashboard.compare.choice import compare_params  # noqa: E402

# Teaching mode's larger text: Streamlit sizes its text in rem, so the root size scales it all.
TEACHING_CSS = "html{font-size:20px}"

st.set_page_config(page_title="Latentboard", page_icon=":material/scatter_plot:", layout="wide")
state.start_umap_warm_up()

# Before anything reads the URL: a bad value never reaches a widget.
ignored = links.open_link(links.params(trainform.url_params(), compare_params()))
ignored += links.read_url(links.app_params())
ignored += links.read_url(links.data_params())  # before the followed run's dataset: the link's wins
st.sidebar.toggle(
    "Teaching mode",
    key=links.TEACH,
    help="Hides advanced settings and enlarges the text, for a class or a "
    "projector. A link copied meanwhile opens in teaching mode too.",
)
teaching = state.teaching()
page = st.navigation(pages.navigation(teaching))
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>")  # less empty space above titles
if teaching:
    st.html(f"<style>{TEACHING_CSS}</style>")
links.notice(ignored)
components.sidebar_status()
link_box = st.sidebar.container()
try:
    page.run()
finally:  # also after st.stop: the link shows what the page left in the URL
    links.write_url({**links.data_values(state.data_spec()), links.TEACH: True if teaching else None})
    components.copy_link(link_box, page.url_path)
