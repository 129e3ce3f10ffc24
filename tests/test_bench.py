"""d2lt.bench: the FLOP formula against a counted figure, the peak table, and a tiny benchmark run."""
import io
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from d2lt import bench
from d2lt.gpt import GPT, GPTConfig
from helpers import ROOT


def counted_training_flops(config, B, T):
    """Matmul FLOPs of one forward + backward, counted by torch (explicit attention: its bmm count)."""
    torch.manual_seed(0)
    m = GPT(config)
    x = torch.randint(0, config.vocab_size, (B, T))
    with bench.explicit_attention(), FlopCounterMode(display=False) as fc:
        m(x, x)[1].backward()
    return fc.get_total_flops()


@pytest.mark.parametrize("L, H, C, V, T, tie", [(2, 2, 32, 100, 32, True), (3, 4, 64, 300, 48, False),
                                                (1, 1, 48, 50, 96, True)])
def test_flops_formula_matches_a_counted_figure(L, H, C, V, T, tie):
    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C, tie_weights=tie)
    counted = counted_training_flops(cfg, 2, T) / (2 * T)
    formula = bench.gpt_flops_per_token(cfg, T)
    # the formula also counts biases and LayerNorm parameters (no matmul) and, untied, the input
    # embedding: a few per cent at these small widths
    assert abs(formula - counted) / counted < 0.06, (formula, counted)
    # the matmul part is exact: 6 x (matmul weights) + 12 L T d
    exact = 6 * (L * (4 * C * C + 2 * C * 4 * C) + V * C) + 12 * L * T * C
    assert counted == exact
    assert bench.flops_per_token(1000, 2, 10, 8) == 6 * 1000 + 12 * 2 * 10 * 8


def test_flops_bad_input():
    with pytest.raises(TypeError, match="n_params"):
        bench.flops_per_token("10", 1, 1, 1)
    with pytest.raises(ValueError, match="seq_len"):
        bench.flops_per_token(10, 1, 0, 1)
    with pytest.raises(TypeError, match="GPTConfig"):
        bench.gpt_flops_per_token({"n_layer": 2}, 8)
    with pytest.raises(ValueError, match="seq_len"):
        bench.gpt_flops_per_token(GPTConfig(block_size=16), 17)
    with pytest.raises((TypeError, ValueError), match="peak"):
        bench.mfu(10.0, 5.0, float("nan"))


@pytest.mark.parametrize("name, dtype, key, value", [
    ("NVIDIA H100 80GB HBM3", "bf16", "H100 SXM", 989.4e12),
    ("NVIDIA H100 PCIe", "bf16", "H100 PCIe", 756.5e12),
    ("NVIDIA H200", "bf16", "H200", 989.4e12),
    ("NVIDIA A100-SXM4-80GB", "bf16", "A100", 312e12),
    ("NVIDIA A100-PCIE-40GB", "tf32", "A100", 156e12),
    ("NVIDIA L4", "fp16", "L4", 121e12),
    ("Tesla V100-SXM2-16GB", "fp16", "V100", 125e12),
])
def test_peak_table_lookup(name, dtype, key, value):
    peak, found, source = bench.lookup_peak(name, dtype)
    assert found == key and peak == pytest.approx(value) and "datasheet" in source


@pytest.mark.parametrize("name, dtype", [("NVIDIA A10G", "bf16"), ("NVIDIA GeForce GTX 1080", "fp32"),
                                         ("Tesla V100-SXM2-16GB", "bf16"), ("NVIDIA H100 NVL", "bf16")])
def test_unknown_device_is_not_guessed(name, dtype):
    assert bench.lookup_peak(name, dtype) is None
    assert bench.mfu(1000.0, 1e6, None) is None


def test_every_table_row_has_a_source_and_dense_figures():
    for key, row in bench.PEAK_FLOPS.items():
        assert row["source"], key
        figures = [v for k, v in row.items() if k != "source"]
        assert figures and all(1e12 < v < 2e15 for v in figures), key


def test_unknown_device_message_in_the_table():
    res = {"device": "cuda:0", "device_name": "Mystery GPU", "threads": 1, "torch": "x", "config": "tiny",
           "n_layer": 1, "n_head": 1, "n_embd": 8, "vocab_size": 10, "batch": 1, "seq": 4, "steps": 1,
           "parameters": 100, "flops_per_token": 1000,
           "rows": {"d2lt GPT (fused attention)": {"tokens_per_s": 10.0, "mfu": None, "dtype": "bf16",
                                                   "peak_flops": None, "peak_from": "unknown",
                                                   "note": ""}}}
    out = io.StringIO()
    bench.print_table(res, out)
    assert bench.UNKNOWN_DEVICE in out.getvalue()


def test_cpu_peak_is_measured_and_plausible():
    peak = bench.cpu_matmul_peak(256, 2)
    assert 1e8 < peak < 1e13


def test_compile_failure_is_reported_not_raised(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("no compiler here")
    monkeypatch.setattr(torch, "compile", broken)
    out = io.StringIO()
    res = bench.run_benchmark("tiny", steps=1, warmup=0, repeats=1, compile=True, device="cpu", out=out)
    row = res["rows"]["d2lt GPT, torch.compile"]
    assert row["tokens_per_s"] is None and row["note"].startswith("not available: RuntimeError")
    assert "not available" in out.getvalue()


def test_tiny_benchmark_run_prints_every_row(tmp_path):
    path = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "d2lt.bench", "--config", "tiny", "--steps", "1", "--repeats",
                        "1", "--no-compile", "--json", str(path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    for line in ("FLOPs per token = 6 N + 12 L T d", "d2lt GPT (fused attention)",
                 "transformers GPT2LMHeadModel", "explicit attention", "bf16 autocast",
                 "torch.compile", "target <= 1.0", "peak: measured now"):
        assert line in r.stdout, (line, r.stdout)
    import json
    res = json.loads(path.read_text())
    assert res["rows"]["d2lt GPT (fused attention)"]["mfu"] > 0
    assert res["ratio_time_ours_over_transformers"] > 0
