"""Damaged checkpoints: every fault is a ValueError naming the file, never a crash or a silent load.

The chapters load a shipped checkpoint with ``except (FileNotFoundError,
ValueError): train here``; these tests damage a checkpoint in every way a disk,
an interrupted writer or a hand edit can, and check that each one takes that
path, that the error names the file, and that the model is left untouched.
"""
import io
import os
import pickle
import random
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from d2lt import train

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"width": 4, "out": 3}


def _model(seed=0):
    torch.manual_seed(seed)
    # BatchNorm brings float buffers and a 0-d integer buffer (num_batches_tracked)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def saved(tmp_path):
    model = _model(0)
    path = train.save_checkpoint(tmp_path / "m.pt", model, CONFIG, score=1.5, vocab='["<pad>"]')
    return path, _snapshot(model)


def refused(path, match=None, config=CONFIG):
    """Load ``path`` into a fresh model: it must raise ValueError naming the file and change nothing."""
    target = _model(1)
    before = _snapshot(target)
    with pytest.raises(ValueError) as e:
        train.load_checkpoint(path, target, config)
    message = str(e.value)
    assert str(path) in message, f"the error does not name the file: {message}"
    if match is not None:
        assert re.search(match, message), message
    assert _same(_snapshot(target), before), "a refused checkpoint changed the model"
    # and the chapters' fallback takes its "else train" path
    try:
        train.load_checkpoint(path, _model(1), config)
        fell_back = False
    except (FileNotFoundError, ValueError):
        fell_back = True
    assert fell_back
    return message


def _forge(payload):
    """Recompute the checksum so that only the later checks can catch the change."""
    payload["checksum"] = train.state_checksum(payload["state_dict"], payload["config"], payload["extra"])
    return payload


def _payload(path):
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- the intact case

def test_intact_checkpoint_loads_exactly(saved):
    path, weights = saved
    target = _model(1)
    assert not _same(_snapshot(target), weights)  # so the load below has something to do
    extra = train.load_checkpoint(path, target, CONFIG)
    assert extra == {"score": 1.5, "vocab": '["<pad>"]'}
    assert _same(_snapshot(target), weights)
    assert set(_payload(path)) == set(train.CHECKPOINT_KEYS) | {"torch"}  # the on-disk format


def test_zero_dim_and_half_checkpoints_round_trip(tmp_path):
    model = _model(0)
    model(torch.randn(5, 4))  # training mode: num_batches_tracked becomes 1, running stats move
    path = train.save_checkpoint(tmp_path / "h.pt", model, CONFIG, half=True)
    back = _model(1)
    train.load_checkpoint(path, back, CONFIG)
    assert back[1].num_batches_tracked.item() == 1 and back[0].weight.dtype == torch.float32
    torch.testing.assert_close(back[0].weight, model[0].weight, atol=1e-3, rtol=1e-3)


def test_missing_file_and_folder_take_the_fallback(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train.load_checkpoint(tmp_path / "none.pt", _model(), CONFIG)
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(FileNotFoundError, match="folder"):
        train.load_checkpoint(tmp_path / "dir.pt", _model(), CONFIG)


# --------------------------------------------------------------------------- damaged bytes

def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    refused(path, "damaged or not a torch file")


@pytest.mark.parametrize("cut", [1, 8, 64, 0.25, 0.5, 0.9, -64, -22, -1])
def test_truncated_file(saved, cut):
    path, _ = saved
    raw = path.read_bytes()
    keep = int(len(raw) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(raw) + cut)
    path.write_bytes(raw[:keep])
    refused(path, "damaged")


def test_flipped_byte_in_the_weights_is_caught_by_the_checksum(saved):
    path, weights = saved
    raw = bytearray(path.read_bytes())
    needle = weights["0.weight"].numpy().tobytes()
    at = raw.find(needle)
    assert at > 0, "the weight bytes are stored uncompressed in the torch zip"
    for offset in (0, len(needle) // 2, len(needle) - 1):
        damaged = bytearray(raw)
        damaged[at + offset] ^= 0x01  # one bit: a float that is still finite and plausible
        path.write_bytes(bytes(damaged))
        refused(path, "checksum")


def test_flipped_bytes_anywhere_never_load_wrong_weights(saved):
    """Flip every 11th byte of the file, one at a time: each is refused, or loads exactly the original.

    Some bytes carry nothing the loader reads (zip padding, an unused id);
    flipping those may load, but only ever the saved weights and values.
    """
    path, weights = saved
    raw = path.read_bytes()
    outcomes = {"refused": 0, "identical": 0}
    for i in range(0, len(raw), 11):
        damaged = bytearray(raw)
        damaged[i] ^= 0xFF
        path.write_bytes(bytes(damaged))
        target = _model(1)
        before = _snapshot(target)
        try:
            extra = train.load_checkpoint(path, target, CONFIG)
        except ValueError as e:
            assert str(path) in str(e), f"byte {i}: the error does not name the file: {e}"
            assert _same(_snapshot(target), before), f"byte {i}: a refused load changed the model"
            outcomes["refused"] += 1
            continue
        assert _same(_snapshot(target), weights), f"byte {i} flipped: loaded weights that were not saved"
        assert extra == {"score": 1.5, "vocab": '["<pad>"]'}, f"byte {i} flipped: extra became {extra}"
        outcomes["identical"] += 1
    # every byte of a small checkpoint, measured once: about half refused, the rest unread
    # (torch does not check the zip CRCs), none loading other weights
    assert outcomes["refused"] > 0, outcomes


@pytest.mark.parametrize("kind", ["random", "zip magic", "empty zip", "foreign zip", "text", "pickle"])
def test_random_and_foreign_bytes(tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '_')}.pt"
    rng = random.Random(kind)
    if kind == "random":
        for n in (1, 100, 10_000):
            path.write_bytes(rng.randbytes(n))
            refused(path, "damaged or not a torch file")
        return
    if kind == "zip magic":
        path.write_bytes(b"PK\x03\x04" + rng.randbytes(4000))
    elif kind in ("empty zip", "foreign zip"):
        with zipfile.ZipFile(path, "w") as z:
            if kind == "foreign zip":
                z.writestr("archive/data.pkl", rng.randbytes(300))
    elif kind == "text":
        path.write_text("this is not a checkpoint\n" * 20)
    else:  # a plain pickle of a dict: not a torch file, and unpickling it runs nothing
        path.write_bytes(pickle.dumps({"state_dict": {}, "config": "{}"}))
    refused(path)


# --------------------------------------------------------------------------- malformed payloads

def _malformed_cases():
    def drop(key):
        def f(p):
            del p[key]
            return p
        return f

    def set_(key, value):
        def f(p):
            p[key] = value
            return p
        return f

    def state(edit):
        def f(p):
            edit(p["state_dict"])
            return _forge(p)
        return f

    def retype(p):
        p["state_dict"]["0.weight"] = p["state_dict"]["0.weight"].round().long()
        return _forge(p)

    cases = {
        "a list": (lambda p: [p], "not a d2lt checkpoint"),
        "a tensor": (lambda p: torch.zeros(3), "not a d2lt checkpoint"),
        "state_dict a list": (set_("state_dict", [torch.zeros(1)]), "malformed payload"),
        "config a dict": (set_("config", {"width": 4}), "malformed payload"),
        "extra None": (set_("extra", None), "malformed payload"),
        "a state entry not a tensor": (lambda p: (p["state_dict"].update({"0.bias": [0.0, 1.0, 2.0]}), p)[1],
                                       "malformed payload.*must be a tensor"),
        "a state key not a str": (lambda p: (p["state_dict"].update({7: torch.zeros(1)}), p)[1],
                                  "malformed payload.*parameter names"),
        "checksum None": (set_("checksum", None), "checksum"),
        "config not JSON (forged)": (lambda p: _forge(set_("config", "{width: 4")(p)), "malformed payload"),
        "extra a JSON list (forged)": (lambda p: _forge(set_("extra", "[1, 2]")(p)), "JSON object"),
        "a weight missing (forged)": (state(lambda s: s.pop("0.bias")), r"missing \['0.bias'\]"),
        "an unexpected weight (forged)": (state(lambda s: s.update({"2.weight": torch.zeros(2)})),
                                          r"unexpected \['2.weight'\]"),
        "a wrong shape (forged)": (state(lambda s: s.update({"0.weight": torch.zeros(3, 5)})), "shape"),
        "a NaN weight (forged)": (state(lambda s: s["0.weight"].view(-1)[2].fill_(float("nan"))),
                                  "non-finite"),
        "an inf buffer (forged)": (state(lambda s: s["1.running_var"].fill_(float("inf"))), "non-finite"),
        "a float weight stored as int (forged)": (retype, "expects torch.float32"),
    }
    for key in train.CHECKPOINT_KEYS:
        cases[f"no {key}"] = (drop(key), "not a d2lt checkpoint")
    return cases


MALFORMED = _malformed_cases()


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_valid_torch_file_with_a_malformed_payload(saved, case):
    path, _ = saved
    edit, match = MALFORMED[case]
    torch.save(edit(_payload(path)), path)
    refused(path, match)


def test_edited_weight(saved):
    path, weights = saved
    payload = _payload(path)
    payload["state_dict"]["0.weight"][0, 0] += 1e-3  # a small, plausible edit; the checksum is kept
    torch.save(payload, path)
    refused(path, "do not match the checksum")


def test_edited_weight_in_a_half_checkpoint(tmp_path):
    path = train.save_checkpoint(tmp_path / "h.pt", _model(0), CONFIG, half=True)
    payload = _payload(path)
    assert payload["state_dict"]["0.weight"].dtype == torch.float16
    payload["state_dict"]["1.running_mean"][1] = 0.5
    torch.save(payload, path)
    refused(path, "checksum")


@pytest.mark.parametrize("field,edit", [
    ("config", lambda text: text.replace('"width": 4', '"width": 5')),
    ("config", lambda text: text.replace('"out": 3', '"out": 3, "extra_key": 1')),
    ("extra", lambda text: text.replace("1.5", "99.0")),
])
def test_edited_stored_config_or_extra(saved, field, edit):
    path, _ = saved
    payload = _payload(path)
    changed = edit(payload[field])
    assert changed != payload[field]
    payload[field] = changed
    torch.save(payload, path)
    refused(path, "do not match the checksum")


def test_edited_fingerprint_only_says_so(saved):
    path, _ = saved
    payload = _payload(path)
    payload["fingerprint"] = "0" * 16
    torch.save(payload, path)
    message = refused(path, "fingerprint itself was changed")
    assert "differences: {}" not in message and "0" * 16 in message


def test_another_config_lists_the_differences(saved):
    path, _ = saved
    message = refused(path, "another config", config={"width": 5, "out": 3})
    assert "'width': (4, 5)" in message


# --------------------------------------------------------------------------- code in the file

class _Evil:
    """Unpickling this runs ``exec``: it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"import pathlib; pathlib.Path({self.marker!r}).write_text('ran')",)


def test_malicious_pickle_runs_no_code(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "marker"
    # a torch file whose payload holds the object, and a bare pickle of it
    payload = _payload(path)
    payload["extra"] = _Evil(marker)
    evil_zip = tmp_path / "evil_zip.pt"
    torch.save(payload, evil_zip)
    evil_pickle = tmp_path / "evil_pickle.pt"
    evil_pickle.write_bytes(pickle.dumps({"state_dict": _Evil(marker)}))
    for evil in (evil_zip, evil_pickle):
        refused(evil)
        assert not marker.exists(), f"loading {evil.name} ran code"
    # the files really are live: an unrestricted unpickler runs them
    pickle.loads(evil_pickle.read_bytes())
    assert marker.read_text() == "ran"
    marker.unlink()
    torch.load(evil_zip, weights_only=False)
    assert marker.read_text() == "ran"


# --------------------------------------------------------------------------- interrupted writers

_WRITER = textwrap.dedent("""
    import io, sys, time
    import torch
    from torch import nn
    from d2lt import train

    path, mode = sys.argv[1], sys.argv[2]
    config = {"width": 4, "out": 3}
    if mode == "pause":  # write half the bytes to the temporary file, then hang before the rename
        torch.manual_seed(7)
        model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
        real_save = torch.save

        def half_then_hang(obj, f):
            buf = io.BytesIO()
            real_save(obj, buf)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            print("half written", flush=True)
            time.sleep(600)

        torch.save = half_then_hang
        train.save_checkpoint(path, model, config)
    else:  # save again and again; the weights tell which save a file holds
        model = nn.Linear(128, 128)
        print("saving", flush=True)
        i = 0
        while True:
            with torch.no_grad():
                model.weight.fill_(i)
                model.bias.fill_(i)
            train.save_checkpoint(path, model, {"loop": True}, i=i)
            i += 1
""")


def _start_writer(tmp_path, target, mode):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), str(target), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=60)
        pytest.fail(f"the writer did not start: {proc.stderr.read()}")
    return proc


def _kill(proc):
    proc.kill()
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()


def _partials(folder):
    return sorted(folder.glob(".partial-*"))


def test_writer_killed_mid_write_leaves_the_old_file_and_its_partial_is_cleaned(saved, tmp_path):
    path, weights = saved
    old_bytes = path.read_bytes()
    proc = _start_writer(tmp_path, path, "pause")
    try:
        assert len(_partials(path.parent)) == 1, "the writer should be half-way through its temporary file"
    finally:
        _kill(proc)
    assert path.read_bytes() == old_bytes, "a killed writer changed the checkpoint"
    target = _model(1)
    train.load_checkpoint(path, target, CONFIG)
    assert _same(_snapshot(target), weights)
    (partial,) = _partials(path.parent)
    assert partial.stat().st_size > 0
    # a young partial may belong to a writer still running: the next save keeps it ...
    train.save_checkpoint(path, _model(2), CONFIG)
    assert _partials(path.parent) == [partial]
    # ... a stale one (over an hour old) is removed by the next save in the folder
    old = time.time() - 2 * 3600
    os.utime(partial, (old, old))
    train.save_checkpoint(path, _model(3), CONFIG)
    assert _partials(path.parent) == []
    newest = _model(1)
    train.load_checkpoint(path, newest, CONFIG)
    assert _same(_snapshot(newest), _snapshot(_model(3)))


def test_writer_killed_at_a_random_moment_leaves_a_whole_file(tmp_path):
    path = tmp_path / "loop.pt"
    proc = _start_writer(tmp_path, path, "loop")
    try:
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:  # at least one save went through
            time.sleep(0.01)
        time.sleep(random.Random(0).uniform(0.1, 0.4))
    finally:
        _kill(proc)
    model = nn.Linear(128, 128)
    extra = train.load_checkpoint(path, model, {"loop": True})  # neither torn nor damaged
    i = extra["i"]
    assert torch.all(model.weight == i) and torch.all(model.bias == i), "weights of another save"
    others = [p.name for p in tmp_path.iterdir() if p.name not in ("loop.pt", "writer.py")]
    assert len(others) <= 1 and all(n.startswith(".partial-") for n in others), others


# --------------------------------------------------------------------------- bad arguments

def test_save_and_load_refuse_bad_arguments(tmp_path, saved):
    path, _ = saved
    for bad in (3, None, b"m.pt"):
        with pytest.raises(TypeError, match="path must be"):
            train.load_checkpoint(bad, _model(), CONFIG)
        with pytest.raises(TypeError, match="path must be"):
            train.save_checkpoint(bad, _model(), CONFIG)
    with pytest.raises(ValueError, match="empty"):
        train.save_checkpoint("", _model(), CONFIG)
    with pytest.raises(TypeError, match="nn.Module"):
        train.load_checkpoint(path, {"0.weight": 1}, CONFIG)
    with pytest.raises(TypeError, match="nn.Module"):
        train.save_checkpoint(tmp_path / "x.pt", "model", CONFIG)
    with pytest.raises(TypeError, match="config must be a dict"):
        train.load_checkpoint(path, _model(), [("width", 4)])
    with pytest.raises(TypeError, match="config must be a dict"):
        train.save_checkpoint(tmp_path / "x.pt", _model(), "width=4")
    with pytest.raises(TypeError, match="half"):
        train.save_checkpoint(tmp_path / "x.pt", _model(), CONFIG, half="yes")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        train.save_checkpoint(tmp_path / "x.pt", _model(), CONFIG, vocab=object())
    assert not (tmp_path / "x.pt").exists() and _partials(tmp_path) == []
    with pytest.raises(TypeError, match="dict of tensors"):
        train.state_checksum([torch.zeros(1)], "{}", "{}")
    with pytest.raises(TypeError, match="must be str"):
        train.state_checksum({}, {}, "{}")
    # the shipped-checkpoint helper
    for bad in ("../x.pt", "x.pth", 3, "a/b.pt"):
        with pytest.raises(ValueError, match=".pt"):
            train.course_checkpoint(bad)
