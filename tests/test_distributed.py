"""Data-parallel training (d2lt.distributed, scripts/train_ddp.py): 2 gloo processes equal one process
on the same global batch, bad launches fail fast, and a resumed run continues with the same losses."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import torch

from d2lt import distributed as D
from helpers import ROOT

SCRIPT = str(ROOT / "scripts" / "train_ddp.py")
ARGS = ["--steps", "4", "--global-batch", "4", "--seq", "16", "--layers", "1", "--heads", "2", "--embd",
        "32", "--vocab", "64", "--data", "random", "--log-every", "1"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_process(argv):
    args = D.parser().parse_args(argv)
    env = D.DistEnv()
    return D.train(args, env, torch.device("cpu"), D.make_data(args.data, args.vocab), log=lambda *a: None)


def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path):
    out = tmp_path / "ddp.json"
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                        "--master-port", str(_free_port()), SCRIPT, *ARGS, "--json", str(out)],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp["world_size"] == 2 and ddp["backend"] == "gloo" and ddp["step"] == 4
    assert ddp["replica_max_diff"] == 0.0  # the two replicas hold identical parameters
    one = single_process(ARGS)
    torch.testing.assert_close(torch.tensor(ddp["losses"]), torch.tensor(one["losses"]), atol=1e-5, rtol=0)
    assert ddp["param_abs_sum"] == pytest.approx(one["param_abs_sum"], rel=1e-6)
    assert ddp["param_sum"] == pytest.approx(one["param_sum"], rel=1e-4, abs=1e-3)
    # a different global batch would not match: the comparison can fail
    other = single_process(ARGS + ["--seed", "1"])
    assert abs(other["losses"][-1] - ddp["losses"][-1]) > 1e-4


def test_missing_rendezvous_address_fails_at_once():
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, SCRIPT, *ARGS], cwd=ROOT, env=_env(WORLD_SIZE="2", RANK="0"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "MASTER_ADDR and MASTER_PORT are not set" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 50
    with pytest.raises(ValueError, match="MASTER_PORT is not set"):
        D.read_env({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1"})


def test_wrong_world_size_times_out_with_a_message():
    """WORLD_SIZE says 2 but only one process starts: a bounded wait, then an error, not a hang."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, SCRIPT, *ARGS, "--timeout", "3"], cwd=ROOT,
                       env=_env(WORLD_SIZE="2", RANK="0", MASTER_ADDR="127.0.0.1",
                                MASTER_PORT=str(_free_port())),
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "did not complete" in r.stderr and "WORLD_SIZE=2 processes were expected" in r.stderr
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("env, match", [
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK must be in"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE must be an integer"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE must be >= 1"),
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "x"}, "MASTER_PORT must be"),
])
def test_bad_launch_variables(env, match):
    with pytest.raises(ValueError, match=match):
        D.read_env(env)


def test_bad_env_values():
    with pytest.raises(ValueError, match="rank"):
        D.DistEnv(rank=2, world_size=2)
    with pytest.raises(TypeError, match="world_size"):
        D.DistEnv(world_size="2")
    with pytest.raises(ValueError, match="step"):
        D.batch_at(torch.arange(100), -1, 2, 8)
    with pytest.raises(ValueError, match="more than seq"):
        D.batch_at(torch.arange(5), 0, 2, 8)


def test_global_batch_must_split_evenly():
    args = D.parser().parse_args(ARGS + ["--global-batch", "5"])
    with pytest.raises(ValueError, match="divisible by the world size 2"):
        D.train(args, D.DistEnv(0, 2, 0, "h", "1"), torch.device("cpu"), D.make_data("random", 64))
    with pytest.raises(ValueError, match="divisible"):
        D.shard(torch.zeros(5, 3), 0, 2)
    assert torch.equal(D.shard(torch.arange(6).view(6, 1), 1, 3).flatten(), torch.tensor([2, 3]))


def test_resume_continues_at_the_same_step_with_the_same_loss(tmp_path):
    argv = ARGS[:]
    argv[1] = "6"
    full = single_process(argv)
    ck = tmp_path / "run.pt"
    first = single_process(argv + ["--checkpoint", str(ck), "--save-every", "2", "--stop-after", "3"])
    assert first["step"] == 3 and ck.is_file()
    resumed = single_process(argv + ["--checkpoint", str(ck), "--save-every", "2"])
    assert resumed["step"] == 6
    assert resumed["losses"] == full["losses"]  # steps 1-2 from the file, 3-6 trained again, bit for bit
    assert resumed["param_sum"] == full["param_sum"]


def test_a_damaged_checkpoint_is_refused(tmp_path):
    ck = tmp_path / "run.pt"
    single_process(ARGS + ["--checkpoint", str(ck), "--save-every", "2"])
    ck.write_bytes(ck.read_bytes()[:100])
    with pytest.raises(ValueError, match="damaged"):
        single_process(ARGS + ["--checkpoint", str(ck)])
