r"""The training entrypoint: one process, all GPUs of a machine, or several machines.

The same code runs in every case; only the launcher changes::

    python -m ipsa_prediction.train                 # one process: the GPU if there is one, else the CPU
    torchrun --standalone --nproc-per-node=4 -m ipsa_prediction.train        # 4 GPUs of this machine
    torchrun --nnodes=2 --nproc-per-node=8 --rdzv-backend=c10d \
        --rdzv-endpoint=FIRST_NODE:29500 -m ipsa_prediction.train            # 2 machines, 8 GPUs each

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and where to
meet: ``MASTER_ADDR``, ``MASTER_PORT``); without them this is a single process
and no process group is made. Each process uses the GPU ``cuda:LOCAL_RANK``
and NCCL when CUDA is available, the CPU and gloo otherwise (``--device cpu``
forces it). The model is DistributedDataParallel's: every process trains on
its own shard of the data (``DistributedSampler``), the gradients are
averaged, and the parameters stay identical everywhere.

It trains the project's network (``models.build_torch_mlp``) on
the IPSA features (``features.make_features``): the prices are
``DATA_DIR/ipsa.csv`` when it exists (write it with
``python -m ipsa_prediction.ipsa --cache DATA_DIR/ipsa.csv``; training never
downloads, every process must see the same data), else deterministic synthetic
prices, and the output says which.

Rank 0 writes ``OUTPUT_DIR/checkpoint.pt`` after every epoch (a temporary file
renamed over the old one, so a crash never leaves half a checkpoint), and a
run starts from the checkpoint it finds: after ``torchrun --max-restarts=3``
restarts a failed group, or when you run again with more ``--epochs``. On
several machines, ``OUTPUT_DIR`` must be a directory that all of them share.

Flags, with the environment variables they fall back to::

    --data-dir     DATA_DIR     (default: data)
    --output-dir   OUTPUT_DIR   (default: runs/train)
    --epochs, --batch-size (per process), --lr, --weight-decay, --seed,
    --device (auto, cuda, cpu), --no-resume
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import features, ipsa, models

CHECKPOINT = "checkpoint.pt"
#: Bumped when the checkpoint's contents change meaning.
CHECKPOINT_FORMAT = 1
HIDDEN = (64, 32)
DROPOUT = 0.1


class TrainError(Exception):
    """Bad input or a setup that cannot train: the message says what to change."""


@dataclass
class World:
    """Where this process stands: its rank among ``size`` processes."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1
    #: True under torchrun (a process group exists), False for a lone process.
    distributed: bool = False


@dataclass
class Dataset:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    #: One sentence: where the data comes from.
    note: str


@dataclass
class Result:
    """What :func:`run` returns (each process its own)."""

    model: Any
    x_scale: models.Standardizer
    y_scale: models.Standardizer
    world: World
    device: Any
    #: The epoch this run started from (0, or the checkpoint's).
    start_epoch: int
    #: Mean training loss of each epoch, the resumed ones included.
    history: list[float] = field(default_factory=list)
    #: Training samples this process saw in its last epoch (its shard).
    shard_size: int = 0
    #: Training samples per second of the last epoch, all processes together.
    samples_per_second: float = 0.0
    checkpoint: Path | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ipsa_prediction.train",
        description="Train the project's network: one process, or many under torchrun.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DATA_DIR") or "data"),
        help="input data (environment: DATA_DIR; default: data)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(os.environ.get("OUTPUT_DIR") or "runs/train"),
        help="checkpoints; shared by all machines (environment: OUTPUT_DIR; default: runs/train)",
    )
    parser.add_argument("--epochs", type=int, default=20, help="total epochs, resumed ones included (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128, help="per process (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default: %(default)s)")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument(
        "--device",
        choices=["auto", "cuda", "cpu"],
        default="auto",
        help="auto: the GPU when CUDA is available, else the CPU (default: %(default)s)",
    )
    parser.add_argument("--no-resume", action="store_true", help="start over, ignoring (and then replacing) a checkpoint")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        parser.error(f"--lr must be a positive number, got {args.lr}")
    if not (args.weight_decay >= 0 and math.isfinite(args.weight_decay)):
        parser.error(f"--weight-decay must be zero or positive, got {args.weight_decay}")
    return args


def world_from_env(env: Any = os.environ) -> World:
    """The process's place from torchrun's variables; none of them: a lone process."""
    names = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
    present = [name for name in names if env.get(name) not in (None, "")]
    if not present:
        return World()
    if len(present) < len(names):
        missing = ", ".join(name for name in names if name not in present)
        raise TrainError(
            f"{', '.join(present)} set but not {missing}: launch with torchrun, which sets all three, "
            "or unset them for a single process"
        )
    try:
        rank, local_rank, size = (int(env[name]) for name in names)
    except ValueError:
        values = ", ".join(f"{name}={env[name]!r}" for name in names)
        raise TrainError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers: {values}") from None
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise TrainError(f"inconsistent torchrun variables: RANK={rank}, LOCAL_RANK={local_rank}, WORLD_SIZE={size}")
    return World(rank, local_rank, size, distributed=True)


def load_data(data_dir: Path) -> Dataset:
    """The training and validation sets (the same on every process)."""
    loaded = ipsa.load_ipsa(cache=data_dir / "ipsa.csv", offline=True)
    X, y = features.split_xy(features.make_features(loaded.prices))
    X_train, X_val, y_train, y_val = features.time_split(X, y, test_fraction=0.2)
    arrays = (X_train, y_train, X_val, y_val)
    return Dataset(*(np.asarray(a, dtype=np.float64) for a in arrays), note=loaded.note)


def pick_device(choice: str, world: World) -> Any:
    import torch

    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        from . import gpu

        why = gpu.torch_problem() or "torch sees no CUDA device"
        raise TrainError(f"--device cuda, but {why}; `cargo nixcuda doctor` checks this machine, or use --device cpu")
    if choice == "cpu" or not cuda:
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if world.local_rank >= count:
        raise TrainError(
            f"LOCAL_RANK={world.local_rank}, but this machine has {count} GPU(s): "
            "start at most one process per GPU (--nproc-per-node)"
        )
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Writes ``state`` to ``path`` atomically: a temporary file, then a rename."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_checkpoint(path: Path, device: Any) -> dict[str, Any] | None:
    import torch

    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which one
        raise TrainError(f"{path} is not a checkpoint of this entrypoint ({error}); move it away or pass --no-resume") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path} is not a checkpoint of this entrypoint (format {CHECKPOINT_FORMAT}); move it away or pass --no-resume")
    return state


def _agree_on_start(world: World, epoch: int, device: Any) -> None:
    """Every process must resume from the same epoch (a shared OUTPUT_DIR)."""
    import torch
    import torch.distributed as dist

    if not world.distributed:
        return
    low = torch.tensor([epoch], device=device)
    high = low.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if low.item() != high.item():
        raise TrainError(
            f"the processes found checkpoints of different epochs ({low.item()} to {high.item()}): "
            "the output directory must be shared by all machines (--output-dir, OUTPUT_DIR)"
        )


def _scaled(dataset: Dataset) -> tuple[models.Standardizer, models.Standardizer]:
    # Fitted on the training set alone, the same on every process.
    return models.Standardizer.fit(dataset.X_train), models.Standardizer.fit(dataset.y_train.reshape(-1, 1))


def run(args: argparse.Namespace, log: Any = print) -> Result:
    """Trains as one process of ``world_from_env()``; ``log`` prints on rank 0 only."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

    world = world_from_env()
    device = pick_device(args.device, world)
    say = log if world.rank == 0 else (lambda *_: None)
    if world.distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        dataset = load_data(args.data_dir)
        say(f"Data: {dataset.note}")
        x_scale, y_scale = _scaled(dataset)
        inputs = torch.from_numpy(x_scale.transform(dataset.X_train)).to(device)
        targets = torch.from_numpy(y_scale.transform(dataset.y_train.reshape(-1, 1))).to(device)
        val_inputs = torch.from_numpy(x_scale.transform(dataset.X_val)).to(device)
        val_targets = torch.from_numpy(y_scale.transform(dataset.y_val.reshape(-1, 1))).to(device)

        torch.manual_seed(args.seed)
        network = models.build_torch_mlp(inputs.shape[1], HIDDEN, DROPOUT).to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        path = args.output_dir / CHECKPOINT
        state = None if args.no_resume else load_checkpoint(path, device)
        start, history = 0, []
        if state is not None:
            if state["n_features"] != inputs.shape[1] or list(state["hidden"]) != list(HIDDEN):
                raise TrainError(
                    f"{path} is for {state['n_features']} features and layers {state['hidden']}, "
                    f"this data has {inputs.shape[1]} and the network {list(HIDDEN)}: "
                    "use another --output-dir, or --no-resume"
                )
            network.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"].cpu())
            start, history = int(state["epoch"]), [float(v) for v in state["history"]]
        _agree_on_start(world, start, device)
        if state is not None:
            say(f"Resuming from {path} after epoch {start}")

        # DDP copies rank 0's parameters to every process at construction.
        model = (
            DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
            if world.distributed
            else network
        )
        # The sampler gives each process its shard of the indices (padded, so
        # that every process runs the same number of steps); the data itself is
        # small and already on the device. A data set that does not fit takes a
        # DataLoader(dataset, sampler=sampler) instead.
        sampler = DistributedSampler(
            range(len(inputs)), num_replicas=world.size, rank=world.rank, shuffle=True, seed=args.seed
        )
        backend = dist.get_backend() if world.distributed else "no process group"
        say(f"{world.size} process(es), {device.type} ({backend}), {len(inputs)} training samples, {len(val_inputs)} validation")
        loss_fn = torch.nn.MSELoss()
        result = Result(network, x_scale, y_scale, world, device, start, history, checkpoint=None)
        if start >= args.epochs:
            say(f"{path} has {start} epochs already, --epochs is {args.epochs}: nothing to do")
        for epoch in range(start, args.epochs):
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), device=device)
            began = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            for first in range(0, len(order), args.batch_size):
                batch = order[first : first + args.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(inputs[batch]), targets[batch])
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach().double() * len(batch)
            # The mean over every process's samples (loss sum, sample count).
            total = torch.stack([loss_sum, torch.tensor(float(len(order)), dtype=torch.float64, device=device)])
            if world.distributed:
                dist.all_reduce(total)
            seconds = time.perf_counter() - began
            mean_loss = (total[0] / total[1]).item()
            history.append(mean_loss)
            result.shard_size = len(order)
            result.samples_per_second = total[1].item() / seconds
            if world.rank == 0:
                network.eval()
                with torch.no_grad():
                    val_loss = loss_fn(network(val_inputs), val_targets).item()
                say(
                    f"epoch {epoch + 1}/{args.epochs}  loss {mean_loss:.4f}  val_loss {val_loss:.4f}  "
                    f"{result.samples_per_second:,.0f} samples/s"
                )
                save_checkpoint(
                    path,
                    {
                        "format": CHECKPOINT_FORMAT,
                        "epoch": epoch + 1,
                        "model": network.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "rng": torch.get_rng_state(),
                        "history": list(history),
                        "n_features": int(inputs.shape[1]),
                        "hidden": list(HIDDEN),
                        "x_mean": torch.from_numpy(x_scale.mean),
                        "x_std": torch.from_numpy(x_scale.std),
                        "y_mean": torch.from_numpy(y_scale.mean),
                        "y_std": torch.from_numpy(y_scale.std),
                        "world_size": world.size,
                    },
                )
                result.checkpoint = path
        if world.distributed:
            # Every process leaves together: none tears the group down while
            # rank 0 still writes its last checkpoint.
            dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)
        return result
    finally:
        if world.distributed and dist.is_initialized():
            dist.destroy_process_group()


def load_regressor(path: str | Path, device: Any = "cpu") -> models.TorchRegressor:
    """The trained network of a checkpoint, ready to ``predict`` raw features."""
    import torch

    state = load_checkpoint(Path(path), torch.device(device))
    if state is None:
        raise TrainError(f"{path}: no such checkpoint")
    network = models.build_torch_mlp(state["n_features"], tuple(state["hidden"]), DROPOUT)
    network.load_state_dict(state["model"])
    network.to(device)
    x_scale = models.Standardizer(state["x_mean"].cpu().numpy(), state["x_std"].cpu().numpy())
    y_scale = models.Standardizer(state["y_mean"].cpu().numpy(), state["y_std"].cpu().numpy())
    return models.TorchRegressor(network, x_scale, y_scale, torch.device(device), list(state["history"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except TrainError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"error: torch is not importable ({error}); run this in the project's shell", file=sys.stderr)
        return 2
    return 0


def leave(code: int) -> None:
    """Ends this process with ``code``. A rank of a process group leaves with
    ``os._exit`` once its output is flushed: gloo's threads can still be
    stopping when the interpreter's exit runs their C++ destructors, which then
    abort a finished run ("terminate called without an active exception").
    The group is destroyed and every checkpoint is on disk by then."""
    if int(os.environ.get("WORLD_SIZE", "1") or "1") > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    leave(main())
