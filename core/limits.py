"""How much one input may cost, in one place: archives, images, arrays, models, caches.

Every reader of user input asks `current_limits()` before the work starts (and before a run
folder exists); none keeps numbers of its own. Each limit is a setting with a default sized for
a laptop, overridden for a bigger machine by an environment variable named after the field:
LATENTBOARD_MAX_ARCHIVE_BYTES=20000000000 allows 20 GB archives.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from core.errors import ConfigError

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    max_archive_bytes: int = 4 * GiB  # everything a zip unpacks to
    max_archive_entries: int = 200_000  # files in one zip
    max_compression_ratio: int = 200  # unpacked / packed size of a zip; real photo zips are near 1
    max_image_pixels: int = 64_000_000  # one image (8000 x 8000); checked from the header before decoding
    max_image_side: int = 1024  # --image-size: the square side every image is resized to
    max_array_bytes: int = 8 * GiB  # one array of a .npz, or a whole dataset in memory
    max_model_bytes: int = 4 * GiB  # weights + gradients + Adam's two moments
    max_extract_cache_bytes: int = 20 * GiB  # unpacked zips kept for reuse; least recently used go first
    max_upload_cache_bytes: int = 20 * GiB  # the dashboard's uploads; least recently used go first, never a run's data

    @staticmethod
    def env_name(field: str) -> str:
        return f"LATENTBOARD_{field.upper()}"


def current_limits() -> Limits:
    """The defaults, with any LATENTBOARD_<FIELD> environment variable laid over them."""
    values = {}
    for field in dataclasses.fields(Limits):
        raw = os.environ.get(Limits.env_name(field.name))
        if raw is None:
            continue
        try:
            value = int(float(raw))
        except ValueError:
            raise ConfigError(f"{Limits.env_name(field.name)}={raw!r} is not a number.") from None
        if value < 1:
            raise ConfigError(f"{Limits.env_name(field.name)} must be positive (got {raw}).")
        values[field.name] = value
    return Limits(**values)


def describe_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def over_limit(what: str, amount: str, field: str, limit: str) -> str:
    """One sentence for every refusal: what, how much, the limit, and how to raise it."""
    return (
        f"{what} ({amount}) is over the limit of {limit}; if you trust it and have the room, raise it with "
        f"{Limits.env_name(field)}."
    )


def describe_limits(limits: Limits | None = None) -> str:
    """The limits an upload meets, in one sentence for an upload widget's help."""
    limits = limits or current_limits()
    return (
        f"Zips may unpack to {describe_bytes(limits.max_archive_bytes)} in {limits.max_archive_entries:,} files "
        f"(at most {limits.max_compression_ratio}:1 compressed); images up to {limits.max_image_pixels:,} pixels; "
        f"arrays up to {describe_bytes(limits.max_array_bytes)}. Whoever runs the server raises them with "
        "LATENTBOARD_MAX_* variables (see the README)."
    )
