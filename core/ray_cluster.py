"""Joining a Ray cluster, and asking every node of it a question: what sweeps and cluster features share.

    started = connect("10.0.0.5:6379")            # or connect() for a private local Ray
    answers = on_every_node(check, "/photos")      # {"10.0.0.7 (3f2a9c01)": None, ...}

Ray is imported inside functions only, so importing this module costs nothing: the CLI, the
dashboard and `latentboard train` without --address never load Ray.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError

ENV_PASSED = ("LATENTBOARD_HOME", "LATENTBOARD_RUNS_DIR", "LATENTBOARD_DATA_DIR")
REACH_SECONDS = 5.0  # a head that does not answer a TCP connect within this is not there


def project_root() -> str:
    """The folder holding this `core` package: workers must import the same code as the driver."""
    return str(Path(__file__).resolve().parents[1])


def check_reachable(address: str, seconds: float = REACH_SECONDS) -> None:
    """ConfigError unless something listens at `address` (HOST:PORT).

    ray.init retries an address where nothing listens for minutes before it gives up; a plain
    TCP connect says the same in at most `seconds`.
    """
    host, _, port = address.rpartition(":")
    if address.startswith(("ray://", "auto", "local")):
        return  # Ray's own address forms: it resolves them itself
    if not host or not port.isdigit():
        raise ConfigError(f"--address must be HOST:PORT, as `ray start --head` prints it (got '{address}').")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            pass
    except OSError as exc:
        raise ConfigError(
            f"No Ray cluster answers at {address} ({exc.strerror or type(exc).__name__}); start one with "
            "`ray start --head` on the head machine and give the address it prints."
        ) from None


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join `address`, or start a local Ray; True when this call started it (and so must shut it down).

    Local means a new, private Ray (address="local"), never someone else's that happens to run on
    this machine. Workers get the driver's project folder on their path and its LATENTBOARD_*
    settings, so every node imports this code and finds the same data.
    """
    if address:
        check_reachable(address)
    import ray

    if ray.is_initialized():
        return False
    env = {name: os.environ[name] for name in ENV_PASSED if name in os.environ}
    path = [project_root(), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": env},
        "include_dashboard": False,
        "logging_level": "ERROR",
        "log_to_driver": False,
    }
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
    except ConnectionError as exc:
        raise ConfigError(
            f"Cannot join the Ray cluster at {address} ({exc}); start it with `ray start --head` "
            "and give the address it prints."
        ) from exc
    return True


def shutdown(started: bool) -> None:
    """Leave Ray, when `connect` started it (a caller already inside Ray keeps its own)."""
    if started:
        import ray

        ray.shutdown()


def alive_nodes() -> list[dict[str, Any]]:
    import ray

    return [node for node in ray.nodes() if node.get("Alive")]


def node_label(node: dict[str, Any]) -> str:
    """How messages name a node: its address and the start of its Ray id (two nodes may share a host)."""
    return f"{node['NodeManagerAddress']} ({node['NodeID'][:8]})"


def on_every_node(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """{node label: fn(*args, node_id)} for every alive node, each call pinned to its node and using no CPU
    (so a busy cluster still answers at once)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0)(fn)
    nodes = alive_nodes()
    futures = [
        task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
            *args, node["NodeID"]
        )
        for node in nodes
    ]
    return dict(zip((node_label(node) for node in nodes), ray.get(futures)))
