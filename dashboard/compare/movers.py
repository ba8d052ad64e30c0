"""The movers: the rows whose nearest neighbours changed most between the two views, with their
pictures, and a button that selects them on both maps (core.compare.movers measures it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.compare import MOVER_NEIGHBOURS, Movers, movers
from dashboard.compare.maps import select
from dashboard.components import show_rows
from dashboard.keys import COMPARE

SHOWN = 20  # movers pictured


@st.cache_data(show_spinner=False, max_entries=8)
def _movers(first: np.ndarray, second: np.ndarray) -> Movers:
    return movers(first, second)


def movers_section(
    run: Any, dataset: Any, rows: np.ndarray, first: np.ndarray, second: np.ndarray, context: tuple
) -> None:
    st.subheader("Movers")
    found = _movers(first, second)
    k = found.k
    st.caption(
        f"For each row, its {MOVER_NEIGHBOURS} nearest neighbours in the left view and in the right one (measured in "
        "the views themselves, not on the maps). The rows that kept the fewest are the movers: where the two "
        "views disagree most. Under each picture: the row, and how many of its neighbours it kept. "
        f"Rows keeping all {k}: {np.mean(found.kept == 1):.0%}; "
        f"neighbours kept on average: {found.kept.mean() * k:.1f} of {k}."
    )
    if not len(found.order):
        st.info("No row's neighbourhood changed: the two views agree everywhere.", icon=":material/check_circle:")
        return
    top = found.order[:SHOWN]
    if st.button(f"Select these {len(top)} on both maps", icon=":material/select_all:", key=COMPARE.select_movers):
        select(context, top)
        st.rerun()
    captions = [f"#{int(rows[p])} · {round(found.kept[p] * k)}/{k}" for p in top]  # neighbours kept
    show_rows(run, dataset, rows[top], captions, columns=10)
