"""The training entrypoint (``ipsa_prediction.train``) on the CPU: two gloo
processes on 127.0.0.1, a single process, checkpoints and resuming.

No GPU and no network beyond the loopback interface; everything is written
under pytest's temporary directories, so this runs in the Nix build sandbox
too (the flake's ``ddp-cpu`` check). Skipped, with the reason, where torch
cannot be imported.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed in this Python environment")
dist = pytest.importorskip("torch.distributed", reason="this torch has no torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("this torch was built without torch.distributed's gloo backend", allow_module_level=True)

from ipsa_prediction import train  # noqa: E402  (after the skips: it needs torch)

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

# One rank of a process group, as torchrun would start it: `run` is what
# `python -m ipsa_prediction.train` calls; its parameters go to a file.
RANK_SCRIPT = """
import sys, torch
from ipsa_prediction import train
result = train.run(train.parse_args(sys.argv[2:]))
torch.save({"shard": result.shard_size, "history": result.history,
            "parameters": {k: v.cpu() for k, v in result.model.state_dict().items()}}, sys.argv[1])
train.leave(0)
"""


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    """No torchrun variables from the caller's environment, and one CPU
    thread: this network is too small to gain from more, and on a busy
    machine their waiting for each other costs many times the work."""
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def args(tmp_path: Path, *extra: str):
    return train.parse_args(
        ["--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"), "--device", "cpu", *extra]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python: this one's, with the package importable."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    package_root = str(Path(train.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def test_two_gloo_ranks_train_the_same_parameters(tmp_path):
    port = str(free_port())
    ranks = []
    for rank in range(2):
        env = child_env(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            # Loopback only, and the plain TCP store (some torch builds lack libuv).
            GLOO_SOCKET_IFNAME="lo",
            USE_LIBUV="0",
        )
        command = [sys.executable, "-c", RANK_SCRIPT, str(tmp_path / f"rank{rank}.pt")]
        command += ["--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")]
        command += ["--device", "cpu", "--epochs", "2", "--batch-size", "64"]
        ranks.append(
            subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = []
    for process in ranks:
        try:
            outputs.append(process.communicate(timeout=120)[0])
        except subprocess.TimeoutExpired:
            for other in ranks:
                other.kill()
            pytest.fail("the two ranks did not finish in 120 s (a rendezvous on 127.0.0.1 that never met?)")
    for rank, (process, output) in enumerate(zip(ranks, outputs)):
        assert process.returncode == 0, f"rank {rank} failed:\n{output}"
    assert "epoch 2/2" in outputs[0] and "samples/s" in outputs[0], outputs[0]
    assert "epoch" not in outputs[1], "only rank 0 prints the epochs"

    first, second = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2))
    # Each rank trained on its own half of the data...
    n_train = len(train.load_data(tmp_path / "data").X_train)
    assert first["shard"] == second["shard"] == (n_train + 1) // 2
    # ...and DistributedDataParallel kept the parameters identical.
    assert first["parameters"].keys() == second["parameters"].keys()
    for name, value in first["parameters"].items():
        assert torch.equal(value, second["parameters"][name]), f"{name} differs between the ranks"
    assert first["history"] == second["history"] and len(first["history"]) == 2
    # Training moved them: not the initial network any more.
    torch.manual_seed(0)
    initial = train.models.build_torch_mlp(first["parameters"]["0.weight"].shape[1], train.HIDDEN, train.DROPOUT)
    assert not torch.equal(initial.state_dict()["0.weight"], first["parameters"]["0.weight"])
    # Rank 0 alone wrote the checkpoint, and nothing was left half-written.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [train.CHECKPOINT]


def test_a_single_process_needs_no_process_group(tmp_path, capsys):
    result = train.run(args(tmp_path, "--epochs", "2"))
    assert not dist.is_initialized()
    assert result.world == train.World() and result.shard_size == len(train.load_data(tmp_path / "data").X_train)
    assert len(result.history) == 2 and all(np.isfinite(result.history))
    printed = capsys.readouterr().out
    assert "epoch 1/2" in printed and "epoch 2/2" in printed and "samples/s" in printed
    regressor = train.load_regressor(result.checkpoint)
    data = train.load_data(tmp_path / "data")
    predictions = regressor.predict(data.X_val)
    assert predictions.shape == (len(data.X_val),) and np.isfinite(predictions).all()


def test_a_run_resumes_from_the_checkpoint_as_if_never_stopped(tmp_path):
    straight = train.run(args(tmp_path / "straight", "--epochs", "3"))
    first = train.run(args(tmp_path / "resumed", "--epochs", "1"))
    assert first.start_epoch == 0
    resumed = train.run(args(tmp_path / "resumed", "--epochs", "3"))
    assert resumed.start_epoch == 1 and len(resumed.history) == 3
    assert resumed.history == straight.history
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    # Nothing left to do: the checkpoint stays as it is.
    again = train.run(args(tmp_path / "resumed", "--epochs", "3"))
    assert again.start_epoch == 3 and again.checkpoint is None
    # --no-resume starts over.
    fresh = train.run(args(tmp_path / "resumed", "--epochs", "1", "--no-resume"))
    assert fresh.start_epoch == 0 and fresh.history == straight.history[:1]


def test_the_entrypoint_runs_as_a_module(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "ipsa_prediction.train", "--device", "cpu", "--epochs", "1"],
        env=child_env(DATA_DIR=str(tmp_path / "data"), OUTPUT_DIR=str(out)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1" in done.stdout and (out / train.CHECKPOINT).is_file()


def test_bad_input_is_refused_with_the_fix(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as refused:
        train.main(["--epochs", "0"])
    assert refused.value.code == 2 and "--epochs must be at least 1" in capsys.readouterr().err

    monkeypatch.setenv("RANK", "0")
    assert train.main(["--device", "cpu"]) == 2
    assert "RANK set but not LOCAL_RANK, WORLD_SIZE: launch with torchrun" in capsys.readouterr().err
    monkeypatch.delenv("RANK")

    out = tmp_path / "out"
    out.mkdir()
    (out / train.CHECKPOINT).write_bytes(b"not a checkpoint")
    assert train.main(["--device", "cpu", "--data-dir", str(tmp_path), "--output-dir", str(out)]) == 2
    assert "is not a checkpoint of this entrypoint" in capsys.readouterr().err
    assert (out / train.CHECKPOINT).read_bytes() == b"not a checkpoint", "a bad checkpoint is left as it was"
