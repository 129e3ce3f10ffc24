"""d2lt.catalog: every model the source material names is present with a source, the quoted
anchors are right, the records are well typed, copies, and the filters check their input."""
import math

import pytest

from d2lt import catalog

SEED_MODELS = ["BERT", "RoBERTa", "ALBERT", "SpanBERT", "DistilBERT", "ELECTRA", "BART", "T5",
               "Switch", "GPT", "GPT-2", "GPT-3", "GPT-4", "InstructGPT", "ChatGPT",
               "Megatron-Turing NLG", "Gopher", "Chinchilla", "PaLM", "PaLM 2", "Minerva",
               "Galactica", "OPT", "BLOOM", "Falcon", "Llama", "Llama 2", "ViT", "Swin", "MAE",
               "CLIP", "DALL-E 2", "Imagen", "Parti", "Gato", "Flamingo", "Sora"]


def test_every_named_model_is_present_with_a_source():
    by_name = {r["name"]: r for r in catalog.models()}
    missing = [n for n in SEED_MODELS if n not in by_name]
    assert not missing, missing
    for n in SEED_MODELS:
        r = by_name[n]
        assert r["source"].strip() and str(r["year"]) in r["source"], (n, r["source"])


@pytest.mark.parametrize("name, params, tokens", [
    ("GPT-3", 175e9, 300e9), ("Chinchilla", 70e9, 1.4e12), ("Gopher", 280e9, 300e9),
    ("Megatron-Turing NLG", 530e9, 270e9), ("PaLM", 540e9, 780e9), ("Llama", 65e9, 1.4e12),
    ("Llama 2", 70e9, 2e12), ("OPT", 175e9, 180e9), ("BLOOM", 176e9, 366e9),
    ("T5", 11e9, 1e12), ("BERT", 340e6, 128e9), ("Falcon", 180e9, 3.5e12),
])
def test_quoted_anchors(name, params, tokens):
    r = catalog.get(name)
    assert r["parameters"] == params and r["tokens"] == tokens


@pytest.mark.parametrize("name, params", [
    ("GPT-2", 1.5e9), ("GPT", 117e6), ("Switch", 1.571e12), ("ViT", 632e6), ("DistilBERT", 66e6),
    ("Parti", 20e9), ("Flamingo", 80e9), ("Gato", 1.2e9), ("Galactica", 120e9),
    ("ALBERT", 235e6), ("ELECTRA", 335e6), ("RoBERTa", 355e6), ("Swin", 197e6),
])
def test_quoted_sizes(name, params):
    assert catalog.get(name)["parameters"] == params


@pytest.mark.parametrize("name", ["GPT-4", "ChatGPT", "PaLM 2", "Sora", "CLIP", "DALL-E 2"])
def test_unpublished_figures_are_none(name):
    r = catalog.get(name)
    assert r["parameters"] is None and r["tokens"] is None


def test_architectures_of_the_three_families():
    arch = {r["name"]: r["architecture"] for r in catalog.models()}
    assert {arch[n] for n in ("BERT", "RoBERTa", "ALBERT", "SpanBERT", "DistilBERT", "ELECTRA")} \
        == {"encoder-only"}
    assert {arch[n] for n in ("BART", "T5", "Switch")} == {"encoder-decoder"}
    assert {arch[n] for n in ("GPT", "GPT-2", "GPT-3", "Gopher", "Chinchilla", "PaLM", "OPT",
                              "BLOOM", "Falcon", "Llama", "Llama 2")} == {"decoder-only"}
    assert {arch[n] for n in ("ViT", "Swin", "MAE")} == {"vision encoder"}


def test_records_are_typed_and_in_range():
    rows = catalog.models()
    assert len(rows) >= len(SEED_MODELS)
    names = [r["name"].lower() for r in rows]
    assert len(names) == len(set(names))
    for r in rows:
        assert tuple(r) == catalog.FIELDS
        assert isinstance(r["year"], int) and 2017 <= r["year"] <= 2024, r
        assert r["architecture"] in catalog.ARCHITECTURES and r["modality"] in catalog.MODALITIES
        for f in ("parameters", "tokens"):
            v = r[f]
            assert v is None or (isinstance(v, (int, float)) and math.isfinite(v) and v > 0), r
        assert r["base"] is None or isinstance(r["base"], str)
        assert r["arxiv"] is None or (isinstance(r["arxiv"], str) and "." in r["arxiv"])
    by = {r["name"]: r for r in rows}
    assert by["GPT"]["year"] < by["GPT-2"]["year"] < by["GPT-3"]["year"] < by["GPT-4"]["year"]
    assert by["InstructGPT"]["base"] == "GPT-3" and by["Flamingo"]["base"] == "Chinchilla"


def test_records_are_copies():
    rows = catalog.models()
    rows[0]["parameters"] = 1
    rows[0]["name"] = "changed"
    rows.clear()
    assert catalog.models()[0]["name"] == "Transformer"
    r = catalog.get("GPT-3")
    r["tokens"] = None
    assert catalog.get("GPT-3")["tokens"] == 300e9
    with pytest.raises(TypeError):
        catalog.CATALOG[0]["name"] = "changed"            # the stored records are read-only


def test_filters():
    enc = catalog.models(architecture="encoder-only")
    assert enc and all(r["architecture"] == "encoder-only" for r in enc)
    both = catalog.models(architecture=["encoder-only", "encoder-decoder"])
    assert len(both) == len(enc) + len(catalog.models(architecture="encoder-decoder"))
    recent = catalog.models(since=2022, until=2023)
    assert recent and all(2022 <= r["year"] <= 2023 for r in recent)
    assert [r["name"] for r in catalog.models(modality="text-video")] == ["Sora"]
    assert len(catalog.models()) == len(catalog.names())


@pytest.mark.parametrize("kw, err", [
    (dict(architecture="encoder"), ValueError), (dict(architecture=3), TypeError),
    (dict(architecture=[]), ValueError), (dict(architecture=["decoder-only", None]), TypeError),
    (dict(modality="audio"), ValueError), (dict(since=2030), ValueError),
    (dict(since="2020"), TypeError), (dict(since=2020.0), TypeError),
    (dict(since=2023, until=2020), ValueError), (dict(until=True), TypeError),
])
def test_filters_check_their_input(kw, err):
    with pytest.raises(err):
        catalog.models(**kw)


def test_get_and_tokens_per_parameter():
    assert catalog.get(" gpt-3 ")["name"] == "GPT-3"
    with pytest.raises(ValueError, match="no model"):
        catalog.get("GPT-5")
    with pytest.raises(TypeError):
        catalog.get(3)
    assert catalog.tokens_per_parameter(catalog.get("Chinchilla")) == pytest.approx(20.0)
    assert catalog.tokens_per_parameter(catalog.get("GPT-3")) == pytest.approx(300 / 175)
    assert catalog.tokens_per_parameter(catalog.get("GPT-4")) is None
    with pytest.raises(TypeError):
        catalog.tokens_per_parameter("GPT-3")
    with pytest.raises(ValueError, match="missing"):
        catalog.tokens_per_parameter({"name": "x"})
    with pytest.raises(ValueError):
        catalog.tokens_per_parameter({"name": "x", "parameters": -1, "tokens": 5})


def test_validation_refuses_bad_records():
    good = dict(catalog.CATALOG[0])
    for change, err in [({"year": 2031}, ValueError), ({"year": "2017"}, TypeError),
                        ({"parameters": 0}, ValueError), ({"parameters": float("nan")}, ValueError),
                        ({"tokens": -5}, ValueError), ({"architecture": "rnn"}, ValueError),
                        ({"source": ""}, ValueError), ({"source": "someone, some title"}, ValueError),
                        ({"arxiv": "1706"}, ValueError), ({"base": ""}, ValueError)]:
        with pytest.raises(err):
            catalog._validate([{**good, **change}])
    with pytest.raises(ValueError, match="twice"):
        catalog._validate([good, {**good, "name": good["name"].upper()}])
    with pytest.raises(ValueError, match="fields"):
        catalog._validate([{k: v for k, v in good.items() if k != "notes"}])
    catalog._validate([good])


def test_chinchilla_line_from_the_data():
    """Who trained on at least 20 tokens per parameter (models trained from scratch)."""
    above = {r["name"] for r in catalog.models() if r["base"] is None
             and (catalog.tokens_per_parameter(r) or 0) >= catalog.CHINCHILLA_TOKENS_PER_PARAMETER}
    assert {"Chinchilla", "Llama", "Llama 2"} <= above
    assert not above & {"GPT-3", "Gopher", "Megatron-Turing NLG", "PaLM", "OPT", "BLOOM"}
