"""Latentboard's Streamlit dashboard: `streamlit run dashboard/app.py`.

Pages live in views/ (one file each, thin). `figures`, `gallery`, `uploads`, `exports` and `modelops` are
plain modules (no Streamlit) that tests import without a running app; `state` and `components`
hold the Streamlit glue the pages share.
"""
