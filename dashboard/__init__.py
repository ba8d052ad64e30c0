"""Latentboard's Streamlit dashboard: `streamlit run dashboard/app.py`.

Pages live in views/ (one file each, thin), listed once in `pages` (the navigation and every link to
a page read it); the session-state keys more than one module uses are declared once, per page, in
`keys`. The Latent space page's parts (controls, map, points, replay, clusters) live in `latent/`.
`gallery`, `uploads`, `exports`, `neighbours`, `replay` and `modelops` are plain modules (no Streamlit) that tests
import without a running app; `state` and `components` hold the Streamlit glue the pages share.
"""
