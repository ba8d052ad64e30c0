"""Latentboard's dashboard: `streamlit run dashboard/app.py` (or `latentboard serve`).

The entry file only configures the page, starts UMAP's warm-up and hands over to st.navigation;
each page lives in views/ and shares code through dashboard.components and dashboard.state.

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

from dashboard import components, state  # noqa: E402

st.set_page_config(page_title="Latentboard", page_icon=":material/scatter_plot:", layout="wide")
state.start_umap_warm_up()

pages = [
    st.Page("views/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/reconstructions.py", title="Reconstructions", icon=":material/compare:"),
    st.Page("views/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("views/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/tune:"),
]
page = st.navigation(pages)
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>")  # less empty space above titles
components.sidebar_status()
page.run()
