"""A view's settings in the URL, so a copied link reopens it: page, dataset, training settings,
map choices, the clicked point, teaching mode.

One registry (`params()`) names every setting a link may carry, on every page, by the same name the
`latentboard train` flag has where there is one (`?dataset=digits&model=conv&latent-dim=32`). The
app checks a link against all of it before any page runs: unknown names and bad or out-of-range
values are dropped with a short notice and the page opens with its defaults there. Each page then
reads its own settings into its widgets (once per value, so a later click wins) and writes them back.

Streamlit drops the query string when the page changes; the session keeps its link (LINK) and puts
it back, so a link copied on any page carries the dataset, the training settings and the map together.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import streamlit as st

from dashboard import state
from dashboard.keys import LATENT

if TYPE_CHECKING:
    from core.data import DataSpec

LINK = "_link"  # name -> raw value: every page's settings this session, put back after a page change
URL_APPLIED = "_url_applied"  # name -> the raw value last put into its widget (so later clicks win)
TEACH = state.TEACH_KEY
NOT_SETTINGS = (state.RUN_KEY,)  # query parameters with their own handling (the followed run: state.py)


@dataclass(frozen=True)
class UrlParam:
    target: str | Callable[[Any], None]  # a widget's session-state key, or what to do with the value
    parse: Callable[[str], Any]  # raises ValueError (with a short reason) on a bad value


def one_of(values: Iterable[Any]) -> Callable[[str], Any]:
    values = list(values)

    def parse(raw: str) -> Any:
        for value in values:
            if str(value) == raw:
                return value
        raise ValueError("not one of " + ", ".join(str(v) for v in values))

    return parse


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not lo <= value <= hi:
            raise ValueError(f"not between {lo} and {hi}")
        return value

    return parse


def number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("not a number") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"not between {lo:g} and {hi:g}")
        return value

    return parse


def yes_no(raw: str) -> bool:
    words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if raw.lower() not in words:
        raise ValueError("not 1 or 0")
    return words[raw.lower()]


def text(limit: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > limit or not raw.strip():
            raise ValueError(f"empty or longer than {limit} characters")
        return raw

    return parse


def as_text(value: Any) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


# --- reading and writing the URL ---------------------------------------------------------------------


def _drop(name: str) -> None:
    st.session_state.setdefault(LINK, {}).pop(name, None)
    st.session_state.setdefault(URL_APPLIED, {}).pop(name, None)
    if name in st.query_params:
        del st.query_params[name]


def _shown(name: str, raw: str) -> str:
    return f"{name[:30]}={raw[:30]}"


def open_link(known: Mapping[str, UrlParam]) -> list[str]:
    """Every run, before the page: check the URL's new values against every page's settings (keeping
    the good ones as the session's link), then put back what a page change dropped. Returns what
    was ignored, as 'name=value (why)'."""
    link = st.session_state.setdefault(LINK, {})
    ignored = []
    for name in list(st.query_params.keys()):
        raw = st.query_params.get(name, "")
        if name in NOT_SETTINGS or link.get(name) == raw:
            continue
        param = known.get(name)
        try:
            if param is None:
                raise ValueError("unknown setting")
            param.parse(raw)
        except ValueError as reason:
            ignored.append(f"{name[:30]} ({reason})" if param is None else f"{_shown(name, raw)} ({reason})")
            _drop(name)
            continue
        link[name] = raw
    for name, raw in link.items():
        if name not in st.query_params:
            st.query_params[name] = raw
    return ignored


def read_url(params: Mapping[str, UrlParam]) -> list[str]:
    """Put the link's values of these settings into their widgets (each value once, before the widgets
    are drawn, and again if the page change forgot the widget); returns what was ignored."""
    applied = st.session_state.setdefault(URL_APPLIED, {})
    ignored = []
    for name, param in params.items():
        raw = st.query_params.get(name)
        if raw is None:
            continue
        try:
            value = param.parse(raw)
        except ValueError as reason:
            ignored.append(f"{_shown(name, raw)} ({reason})")
            _drop(name)
            continue
        forgotten = isinstance(param.target, str) and param.target not in st.session_state
        if applied.get(name) != raw or forgotten:
            if callable(param.target):
                param.target(value)
            else:
                st.session_state[param.target] = value
            applied[name] = raw
    return ignored


def write_url(values: Mapping[str, Any]) -> None:
    """Mirror the page's current settings into the URL (None: leave the setting out), so copying the
    address shares the view."""
    link = st.session_state.setdefault(LINK, {})
    applied = st.session_state.setdefault(URL_APPLIED, {})
    for name, value in values.items():
        if value is None:
            _drop(name)
            continue
        text_value = as_text(value)
        link[name] = applied[name] = text_value  # already in the widget: reading it back must not undo a later change
        if st.query_params.get(name) != text_value:
            st.query_params[name] = text_value


def notice(ignored: list[str]) -> None:
    if ignored:
        st.info(
            "Parts of this link were not understood, so the page opens with its defaults there: "
            + "; ".join(ignored)
            + ".",
            icon=":material/link_off:",
        )


def link_to(page_path: str) -> str:
    """The address of this view: the app's URL in the browser (when known), the page, the settings."""
    where = urlsplit(st.context.url or "")  # its path may name a page: only the server is taken from it
    root = str(st.get_option("server.baseUrlPath") or "").strip("/")
    base = (f"{where.scheme}://{where.netloc}" if where.netloc else "") + (f"/{root}" if root else "")
    query = urlencode({name: st.query_params.get(name) for name in st.query_params.keys()})
    return f"{base}/{page_path}" + (f"?{query}" if query else "")


# --- the registry: every page's settings ---------------------------------------------------------------


@functools.cache
def flag_names() -> dict[tuple[str | None, str], str]:
    """(section, field) -> its `latentboard train` flag without the dashes: a link reads like the command."""
    from core.cli import config_flags

    return {flag.targets[0]: flag.dest for flag in config_flags() if len(flag.targets) == 1}


def field_params(
    section: str, cls: type, fields: Mapping[str, str | Callable[[Any], None]], bounds: Mapping[str, tuple]
) -> dict[str, UrlParam]:
    """Link settings for some fields of a config dataclass (field -> target), parsed as the dataclass
    types them: its choices or registry, yes/no, text, or a number within `bounds`."""
    from core.config_base import describe

    described = {f.name: f for f in describe(cls)}
    params = {}
    for name, target in fields.items():
        f = described[name]
        if f.choices is not None:
            parse = one_of(f.choices)
        elif f.registry is not None:
            parse = one_of(f.registry())
        elif f.type is bool:
            parse = yes_no
        elif f.type is int:
            parse = whole_number(*bounds[name])
        elif f.type is float:
            parse = number(*bounds[name])
        else:
            parse = text(1000)
        params[flag_names()[(section, name)]] = UrlParam(target, parse)
    return params


# The dataset: DataSpec's fields the Data page sets (not `download`: opening a link fetches nothing).
DATA_FIELDS = ("source", "path", "max_samples", "image_size", "grayscale", "label_column", "missing")
DATA_BOUNDS = {"max_samples": (1, 10**9), "image_size": (8, 256)}  # the Data page's boxes use these too


def _set_data_field(name: str) -> Callable[[Any], None]:
    def put(value: Any) -> None:
        state.set_data_spec(dataclasses.replace(state.data_spec(), **{name: value}))

    return put


def data_params() -> dict[str, UrlParam]:
    from core.data import DataSpec

    return field_params("data", DataSpec, {name: _set_data_field(name) for name in DATA_FIELDS}, DATA_BOUNDS)


def data_values(spec: DataSpec) -> dict[str, Any]:
    """The spec's link settings: the source always, the others where they differ from the defaults."""
    from core.data import DataSpec
    from core.paths import default_data_dir

    default = DataSpec()
    names = {name: flag_names()[("data", name)] for name in DATA_FIELDS}
    values = {
        names[name]: (None if getattr(spec, name) == getattr(default, name) else getattr(spec, name))
        for name in DATA_FIELDS
    }
    values[names["source"]] = spec.source
    if spec.path == str(default_data_dir()):  # a download cache where it always is: no need to say
        values[names["path"]] = None
    return values


# The map on the Latent space page.
COLOURINGS = ("label", "cluster", "error", "trust")
SPLITS = ("test", "val", "train", "all")
CLUSTER_BOUNDS = (2, 100)  # a link's k, and the Latent space page's "Number of clusters" box


def projections() -> list[str]:
    from core.methods import MAP_METHODS

    return list(MAP_METHODS)


def clusterers() -> list[str]:
    """Every clustering method the evaluation scores (core.methods: the plain ones, those on N2D's manifold, N2D)."""
    from core.methods import CLUSTER_METHODS

    return list(CLUSTER_METHODS)


def map_params() -> dict[str, UrlParam]:
    """?split=test&projection=pca&dims=2&colour=cluster&clusters=kmeans&k=10&point=3. These widgets take
    their identity from their key alone, so a value a link puts into session state wins over the
    widget's default (Streamlit logs that once, and shows nothing)."""
    return {
        "split": UrlParam(LATENT.split, one_of(SPLITS)),
        "projection": UrlParam(LATENT.method, one_of(projections())),
        "dims": UrlParam(LATENT.dims, one_of([2, 3])),
        "colour": UrlParam(LATENT.colour, one_of(COLOURINGS)),
        "clusters": UrlParam(LATENT.clusterer, one_of(clusterers())),
        "k": UrlParam(LATENT.k, whole_number(*CLUSTER_BOUNDS)),
        "point": UrlParam(
            lambda position: st.session_state.__setitem__(LATENT.link_point, position), whole_number(0, 10**9)
        ),
    }


def app_params() -> dict[str, UrlParam]:
    return {TEACH: UrlParam(TEACH, yes_no)}


def params(*page_params: dict[str, UrlParam]) -> dict[str, UrlParam]:
    """Every setting a link may carry, on any page; a name two pages would share is a bug.

    The app's, the Data page's and the map's are declared here; a page module that builds on this
    one (dashboard.trainform's Train form) passes its own in, so neither imports the other.
    """
    groups = [app_params(), data_params(), *page_params, map_params()]
    merged: dict[str, UrlParam] = {}
    for group in groups:
        clash = set(group) & set(merged)
        if clash:
            raise ValueError(f"Two pages' link settings share the names {sorted(clash)}.")
        merged.update(group)
    return merged
