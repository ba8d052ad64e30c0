"""Does `torch.compile` pay for the digits recipe's conv autoencoder on this machine?

The same bare training loop (channels-last batches of 64, pose augmentation as the recipe trains,
Adam) runs eager and compiled in one process, on the same batches. Prints the first steps'
seconds (the compile is paid there) and one epoch's seconds after it, then the break-even
number of epochs (none when the compiled epoch is not faster). Never part of the tests' pass/fail.

    python benchmarks/torch_compile.py                 # CPU, 2 threads, 8,000 mnist-10k digits
    python benchmarks/torch_compile.py --device cuda --threads 0

Measured 2026-12-01, alone on 2 cores: eager 4.0-4.4 s an epoch, compiled 4.6-4.7 s after 21 s
of compiling (1 s once inductor's disk cache holds it). The trainer stays eager.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.data import DataSpec, load_dataset  # noqa: E402
from core.devices import resolve_device  # noqa: E402
from core.models import ModelConfig, build_model, random_pose  # noqa: E402
from core.presets import PRESETS  # noqa: E402


def epoch(
    model: torch.nn.Module, optimiser: torch.optim.Optimizer, x: torch.Tensor, augment: float, steps: int | None = None
) -> float:
    """Wall seconds of one pass (or of its first `steps` batches), on fixed batches."""
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=generator)
    began = time.perf_counter()
    for step, start in enumerate(range(0, len(x) - 63, 64), 1):
        batch = x[order[start : start + 64]].contiguous(memory_format=torch.channels_last)
        out = model(random_pose(batch, augment, generator))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out.recon, batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if steps and step >= steps:
            break
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (0: leave torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    recipe = PRESETS["digits"]
    config = ModelConfig(**recipe["model"])
    x = load_dataset(DataSpec("mnist-10k")).x[: args.rows].to(device)
    first, seconds = {}, {}
    for name in ("eager", "compiled"):
        torch.manual_seed(0)
        model = build_model(config, tuple(x.shape[1:])).to(device, memory_format=torch.channels_last)
        running = torch.compile(model) if name == "compiled" else model
        optimiser = torch.optim.Adam(model.parameters(), recipe["train"]["lr"])
        first[name] = epoch(running, optimiser, x, config.augment, steps=3)
        seconds[name] = epoch(running, optimiser, x, config.augment)
        print(
            f"{name:>8}: first 3 steps {first[name]:.1f} s (compiling included), then one epoch of {len(x)} rows "
            f"{seconds[name]:.1f} s",
            flush=True,
        )
    saved = seconds["eager"] - seconds["compiled"]
    print(
        f"break-even: {first['compiled'] / saved:.0f} epochs"
        if saved > 0
        else "break-even: never (compiled is not faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
