"""The Transformer family as data (chapter 13): one record per model, every figure quoted.

:func:`models` returns the catalog as a list of dicts (fresh copies: changing
one changes nothing here), ``pandas.DataFrame(models())`` makes a table of it.
Every record has these fields:

=============  ==================================================================
name           the model's usual name ("GPT-3", "Llama 2", ...)
year           the year of the cited source (the paper, preprint or report)
organisation   who built it
architecture   one of :data:`ARCHITECTURES` (how the Transformer is used)
modality       one of :data:`MODALITIES` (what it reads and writes)
parameters     the largest published size, or None where none is published
tokens         training tokens of that model's own run, or None where not
               published (None also for models trained on images or pairs)
base           the model it was further trained or fine-tuned from, else None
objective      what it was trained to do
source         authors, year and title of the source every figure is quoted from
arxiv          the source's arXiv id, or None (a blog post or report)
notes          how a figure was read from the source, where that needs saying
=============  ==================================================================

The figures are quoted from the sources named in each record, none computed
here; where a source gives steps and batch sizes rather than a token count, the
notes say so and ``tokens`` is their product as the source states it. A model
whose size or data was not published (GPT-4, PaLM 2, ChatGPT, Sora) has None,
never an estimate. The records are validated when the module is imported
(unique names, known architectures, years in range, sizes positive or None).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from . import validate as check

__all__ = ["ARCHITECTURES", "MODALITIES", "CHINCHILLA_TOKENS_PER_PARAMETER", "FIELDS", "models",
           "get", "names", "tokens_per_parameter"]

ARCHITECTURES = ("encoder-only", "decoder-only", "encoder-decoder", "vision encoder",
                 "dual encoder", "diffusion", "diffusion transformer")
MODALITIES = ("text", "image", "text-image", "text-video", "multimodal")
#: Hoffmann et al. (2022, quoted): compute-optimal training uses about 20 tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAMETER = 20
FIELDS = ("name", "year", "organisation", "architecture", "modality", "parameters", "tokens", "base",
          "objective", "source", "arxiv", "notes")
YEARS = (2017, 2024)

_ARXIV = re.compile(r"^\d{4}\.\d{4,5}$")


def _m(name, year, organisation, architecture, modality, parameters, tokens, objective, source,
       arxiv, notes="", base=None):
    parameters = None if parameters is None else int(parameters)  # 175e9 -> 175000000000
    tokens = None if tokens is None else int(tokens)
    return MappingProxyType({  # read-only: models() hands out copies
        "name": name, "year": year, "organisation": organisation, "architecture": architecture,
        "modality": modality, "parameters": parameters, "tokens": tokens, "base": base,
        "objective": objective, "source": source, "arxiv": arxiv, "notes": notes})


_MLM = "masked language modelling"
_LM = "next-token prediction (language modelling)"

#: The catalog. Sizes are the largest model of each source; all figures quoted from it.
CATALOG = (
    _m("Transformer", 2017, "Google Brain, Google Research", "encoder-decoder", "text", 213e6, None,
       "supervised translation (WMT 2014)",
       "Vaswani et al. 2017, Attention Is All You Need", "1706.03762",
       "the big model of table 3 (213 x 10^6 parameters)"),
    # ---------------------------------------------------------------- encoder-only (chapters 7-8)
    _m("BERT", 2018, "Google AI Language", "encoder-only", "text", 340e6, 128e9,
       f"{_MLM} + next-sentence prediction",
       "Devlin et al. 2018, BERT: Pre-training of Deep Bidirectional Transformers for Language "
       "Understanding", "1810.04805",
       "BERT-large; tokens: 1,000,000 steps of 128,000 tokens per batch as the paper states "
       "(about 40 passes over 3.3 billion words; 90% of the steps used 128-token sequences, so "
       "this is an upper bound)"),
    _m("RoBERTa", 2019, "Facebook AI, University of Washington", "encoder-only", "text", 355e6,
       2.1e12, f"{_MLM} (dynamic masking, no next-sentence prediction)",
       "Liu et al. 2019, RoBERTa: A Robustly Optimized BERT Pretraining Approach", "1907.11692",
       "RoBERTa-large; tokens: 500K steps of 8K sequences of up to 512 tokens, the paper's longest "
       "run (about 2 trillion)"),
    _m("ALBERT", 2019, "Google Research, Toyota Technological Institute at Chicago",
       "encoder-only", "text", 235e6, None, f"{_MLM} + sentence-order prediction",
       "Lan et al. 2019, ALBERT: A Lite BERT for Self-supervised Learning of Language "
       "Representations", "1909.11942",
       "ALBERT-xxlarge (table 1); parameters shared across layers, factorised embeddings"),
    _m("SpanBERT", 2019, "University of Washington, Facebook AI", "encoder-only", "text", None,
       None, "masked span prediction + span-boundary objective",
       "Joshi et al. 2019, SpanBERT: Improving Pre-training by Representing and Predicting Spans",
       "1907.10529", "the BERT-large architecture; the paper prints no parameter count"),
    _m("DistilBERT", 2019, "Hugging Face", "encoder-only", "text", 66e6, None,
       "knowledge distillation from BERT-base + masked language modelling",
       "Sanh et al. 2019, DistilBERT, a distilled version of BERT: smaller, faster, cheaper and "
       "lighter", "1910.01108", "6 layers, 40% smaller than BERT-base"),
    _m("ELECTRA", 2020, "Stanford University, Google Brain", "encoder-only", "text", 335e6, None,
       "replaced-token detection (a discriminator against a small generator)",
       "Clark et al. 2020, ELECTRA: Pre-training Text Encoders as Discriminators Rather Than "
       "Generators", "2003.10555", "ELECTRA-Large"),
    # ---------------------------------------------------------------- encoder-decoder (chapter 9)
    _m("BART", 2019, "Facebook AI", "encoder-decoder", "text", 400e6, None,
       "denoising autoencoder (masking, deletion, permutation, rotation, infilling)",
       "Lewis et al. 2019, BART: Denoising Sequence-to-Sequence Pre-training for Natural Language "
       "Generation, Translation, and Comprehension", "1910.13461",
       "BART-large, 12 + 12 layers of width 1,024; 400M as fairseq's release lists it"),
    _m("T5", 2019, "Google", "encoder-decoder", "text", 11e9, 1e12,
       "span corruption, then every task as text to text",
       "Raffel et al. 2019, Exploring the Limits of Transfer Learning with a Unified "
       "Text-to-Text Transformer", "1910.10683",
       "T5-11B; tokens: 1M steps of 2^11 sequences of 512, 'about 1 trillion' as the paper says"),
    _m("Switch", 2021, "Google", "encoder-decoder", "text", 1.571e12, None,
       "span corruption with sparse mixture-of-experts layers (top-1 routing)",
       "Fedus et al. 2021, Switch Transformers: Scaling to Trillion Parameter Models with Simple "
       "and Efficient Sparsity", "2101.03961",
       "Switch-C, 2,048 experts (table 9); built on T5; a token uses a small share of the "
       "parameters"),
    # ---------------------------------------------------------------- decoder-only (chapters 10-12)
    _m("GPT", 2018, "OpenAI", "decoder-only", "text", 117e6, None, _LM + ", then fine-tuning",
       "Radford et al. 2018, Improving Language Understanding by Generative Pre-Training", None,
       "12 blocks; 117M as the GPT-2 paper gives for its smallest model, 'equivalent to the "
       "original GPT'"),
    _m("GPT-2", 2019, "OpenAI", "decoder-only", "text", 1.5e9, None, _LM,
       "Radford et al. 2019, Language Models are Unsupervised Multitask Learners", None,
       "48 blocks, 1,542M; 40 GB of web text (WebText), no token count published"),
    _m("GPT-3", 2020, "OpenAI", "decoder-only", "text", 175e9, 300e9, _LM,
       "Brown et al. 2020, Language Models are Few-Shot Learners", "2005.14165",
       "96 blocks of width 12,288 (table 2.1); all eight sizes on 300B tokens"),
    _m("GPT-4", 2023, "OpenAI", "decoder-only", "multimodal", None, None,
       _LM + ", then RLHF; images and text in, text out",
       "OpenAI 2023, GPT-4 Technical Report", "2303.08774",
       "'a Transformer-style model pre-trained to predict the next token'; the report publishes "
       "neither the size nor the data"),
    _m("InstructGPT", 2022, "OpenAI", "decoder-only", "text", 175e9, None,
       "supervised instruction tuning, then RLHF (a reward model and PPO)",
       "Ouyang et al. 2022, Training language models to follow instructions with human feedback",
       "2203.02155", "GPT-3 fine-tuned (1.3B, 6B and 175B); the 1.3B model's outputs were "
       "preferred to the 175B GPT-3's", base="GPT-3"),
    _m("ChatGPT", 2022, "OpenAI", "decoder-only", "text", None, None,
       "dialogue instruction tuning, then RLHF",
       "OpenAI 2022, Introducing ChatGPT (blog post, 30 November 2022)", None,
       "fine-tuned from a GPT-3.5 series model; size not published", base="GPT-3.5"),
    _m("Megatron-Turing NLG", 2022, "Microsoft, NVIDIA", "decoder-only", "text", 530e9, 270e9,
       _LM, "Smith et al. 2022, Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B, "
       "A Large-Scale Generative Language Model", "2201.11990", "105 blocks of width 20,480"),
    _m("Gopher", 2021, "DeepMind", "decoder-only", "text", 280e9, 300e9, _LM,
       "Rae et al. 2021, Scaling Language Models: Methods, Analysis & Insights from Training "
       "Gopher", "2112.11446", "80 blocks; trained on MassiveText"),
    _m("Chinchilla", 2022, "DeepMind", "decoder-only", "text", 70e9, 1.4e12, _LM,
       "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models", "2203.15556",
       "Gopher's compute budget with a quarter of its parameters and 4.7x its tokens"),
    _m("PaLM", 2022, "Google", "decoder-only", "text", 540e9, 780e9, _LM,
       "Chowdhery et al. 2022, PaLM: Scaling Language Modeling with Pathways", "2204.02311",
       "118 blocks; SwiGLU, parallel blocks, multi-query attention"),
    _m("PaLM 2", 2023, "Google", "decoder-only", "text", None, None,
       "a mixture of objectives (similar to UL2)",
       "Anil et al. 2023, PaLM 2 Technical Report", "2305.10403",
       "'a Transformer-based model'; the report publishes neither the size nor the token count, "
       "only that data and model were scaled roughly 1:1"),
    _m("Minerva", 2022, "Google", "decoder-only", "text", 540e9, None,
       _LM + " on mathematical and scientific text", "Lewkowycz et al. 2022, Solving "
       "Quantitative Reasoning Problems with Language Models", "2206.14858",
       "PaLM further trained on a 38.5B-token dataset of arXiv papers and web pages with "
       "mathematics", base="PaLM"),
    _m("Galactica", 2022, "Meta AI, Papers with Code", "decoder-only", "text", 120e9, 450e9,
       _LM + " on a scientific corpus", "Taylor et al. 2022, Galactica: A Large Language Model "
       "for Science", "2211.09085", "4.25 passes over a 106B-token corpus"),
    _m("OPT", 2022, "Meta AI", "decoder-only", "text", 175e9, 180e9, _LM,
       "Zhang et al. 2022, OPT: Open Pre-trained Transformer Language Models", "2205.01068",
       "OPT-175B, weights released to researchers"),
    _m("BLOOM", 2022, "BigScience", "decoder-only", "text", 176e9, 366e9, _LM + ", 46 languages",
       "BigScience Workshop (Le Scao et al.) 2022, BLOOM: A 176B-Parameter Open-Access "
       "Multilingual Language Model", "2211.05100", "open weights"),
    _m("Falcon", 2023, "Technology Innovation Institute", "decoder-only", "text", 180e9, 3.5e12,
       _LM + " on filtered web data (RefinedWeb)",
       "Almazrouei et al. 2023, The Falcon Series of Open Language Models", "2311.16867",
       "Falcon-180B; the RefinedWeb paper (Penedo et al. 2023, 2306.01116) describes its data"),
    _m("Llama", 2023, "Meta AI", "decoder-only", "text", 65e9, 1.4e12, _LM,
       "Touvron et al. 2023, LLaMA: Open and Efficient Foundation Language Models", "2302.13971",
       "LLaMA-65B (33B also on 1.4T tokens, 7B and 13B on 1T): more tokens than usual, for "
       "cheap inference"),
    _m("Llama 2", 2023, "Meta AI", "decoder-only", "text", 70e9, 2e12, _LM,
       "Touvron et al. 2023, Llama 2: Open Foundation and Fine-Tuned Chat Models", "2307.09288",
       "40% more pretraining data than Llama; chat versions tuned with RLHF"),
    # ---------------------------------------------------------------- vision (this chapter)
    _m("ViT", 2020, "Google Research, Brain Team", "vision encoder", "image", 632e6, None,
       "supervised image classification (JFT-300M, then fine-tuning)",
       "Dosovitskiy et al. 2020, An Image is Worth 16x16 Words: Transformers for Image "
       "Recognition at Scale", "2010.11929", "ViT-Huge (table 1); patches as tokens, a <cls> token"),
    _m("Swin", 2021, "Microsoft Research Asia", "vision encoder", "image", 197e6, None,
       "supervised image classification, a hierarchical backbone",
       "Liu et al. 2021, Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
       "2103.14030", "Swin-L; attention inside shifted local windows"),
    _m("MAE", 2021, "Facebook AI Research", "vision encoder", "image", 632e6, None,
       "masked autoencoding: reconstruct 75% of the patches from the rest",
       "He et al. 2021, Masked Autoencoders Are Scalable Vision Learners", "2111.06377",
       "ViT-H encoder"),
    # ---------------------------------------------------------------- multimodal (outlook)
    _m("CLIP", 2021, "OpenAI", "dual encoder", "text-image", None, None,
       "contrastive matching of 400M image-text pairs",
       "Radford et al. 2021, Learning Transferable Visual Models From Natural Language "
       "Supervision", "2103.00020",
       "a Transformer text encoder and a ViT (or ResNet) image encoder; no total size printed"),
    _m("DALL-E 2", 2022, "OpenAI", "diffusion", "text-image", None, None,
       "text to image: a prior onto CLIP image embeddings, then a diffusion decoder",
       "Ramesh et al. 2022, Hierarchical Text-Conditional Image Generation with CLIP Latents",
       "2204.06125", "uses CLIP's embeddings; no total size printed"),
    _m("Imagen", 2022, "Google Research, Brain Team", "diffusion", "text-image", None, None,
       "text to image: cascaded diffusion conditioned on a frozen text encoder",
       "Saharia et al. 2022, Photorealistic Text-to-Image Diffusion Models with Deep Language "
       "Understanding", "2205.11487",
       "its text encoder is the frozen T5-XXL encoder (4.6B parameters, quoted); no total",
       base="T5"),
    _m("Parti", 2022, "Google Research", "encoder-decoder", "text-image", 20e9, None,
       "text to image as translation into ViT-VQGAN image tokens",
       "Yu et al. 2022, Scaling Autoregressive Models for Content-Rich Text-to-Image Generation",
       "2206.10789", "sizes 350M, 750M, 3B and 20B"),
    _m("Gato", 2022, "DeepMind", "decoder-only", "multimodal", 1.2e9, None,
       "next-token prediction over text, images, joint torques and button presses",
       "Reed et al. 2022, A Generalist Agent", "2205.06175",
       "1.18B; one network plays Atari, captions images, chats and stacks blocks with a robot arm"),
    _m("Flamingo", 2022, "DeepMind", "decoder-only", "text-image", 80e9, None,
       "next-token prediction on interleaved images and text, frozen language model",
       "Alayrac et al. 2022, Flamingo: a Visual Language Model for Few-Shot Learning",
       "2204.14198", "a frozen Chinchilla 70B with added cross-attention layers to a vision "
       "encoder", base="Chinchilla"),
    _m("Sora", 2024, "OpenAI", "diffusion transformer", "text-video", None, None,
       "text to video: diffusion over spacetime patches with a Transformer",
       "Brooks et al. 2024, Video generation models as world simulators (OpenAI technical "
       "report)", None, "neither the size nor the data published"),
)


def _validate(records) -> None:
    """Refuse a malformed catalog: ValueError naming the record and the field."""
    seen = set()
    for r in records:
        if not isinstance(r, Mapping) or tuple(r) != FIELDS:
            raise ValueError(f"a catalog record must have exactly the fields {FIELDS}, got {r!r}")
        name = r["name"]
        check.string(name, "name", nonempty=True)
        if name.lower() in seen:
            raise ValueError(f"the catalog lists {name!r} twice")
        seen.add(name.lower())
        check.integer(r["year"], f"{name}: year", *YEARS)
        check.string(r["architecture"], f"{name}: architecture", choices=ARCHITECTURES)
        check.string(r["modality"], f"{name}: modality", choices=MODALITIES)
        for field in ("parameters", "tokens"):
            check.number(r[field], f"{name}: {field}", 0, strict=True, allow_none=True)
        for field in ("organisation", "objective", "source"):
            check.string(r[field], f"{name}: {field}", nonempty=True)
        check.string(r["notes"], f"{name}: notes")
        check.string(r["base"], f"{name}: base", allow_none=True, nonempty=r["base"] is not None)
        if not re.search(r"\b(19|20)\d\d\b", r["source"]):
            raise ValueError(f"{name}: the source must name its year, got {r['source']!r}")
        if r["arxiv"] is not None and not _ARXIV.match(str(r["arxiv"])):
            raise ValueError(f"{name}: arxiv must be None or an id such as '2005.14165', "
                             f"got {r['arxiv']!r}")


_validate(CATALOG)


def models(architecture=None, modality=None, since=None, until=None) -> list:
    """The catalog as a list of dicts (copies), in the order of :data:`CATALOG`.

    ``architecture`` and ``modality`` (a str of :data:`ARCHITECTURES` /
    :data:`MODALITIES`, or a list of them) keep the matching records; ``since``
    and ``until`` (years, inclusive) keep those in the range.
    """
    keep_arch = _choices(architecture, "architecture", ARCHITECTURES)
    keep_mod = _choices(modality, "modality", MODALITIES)
    since = check.integer(since, "since", *YEARS, allow_none=True)
    until = check.integer(until, "until", *YEARS, allow_none=True)
    if since is not None and until is not None and since > until:
        raise ValueError(f"since must not be after until, got since={since}, until={until}")
    out = []
    for r in CATALOG:
        if keep_arch is not None and r["architecture"] not in keep_arch:
            continue
        if keep_mod is not None and r["modality"] not in keep_mod:
            continue
        if (since is not None and r["year"] < since) or (until is not None and r["year"] > until):
            continue
        out.append(dict(r))
    return out


def _choices(value, name, allowed):
    if value is None:
        return None
    values = [value] if isinstance(value, str) else check.sequence(value, name, f"a str or a list "
                                                                   f"of {list(allowed)}",
                                                                   nonempty=True)
    for v in values:
        check.string(v, name, choices=allowed)
    return set(values)


def names() -> list:
    """The names of every model in the catalog, in order."""
    return [r["name"] for r in CATALOG]


def get(name) -> dict:
    """The record of the model called ``name`` (case-insensitive), as a copy."""
    check.string(name, "name", nonempty=True)
    for r in CATALOG:
        if r["name"].lower() == name.strip().lower():
            return dict(r)
    raise ValueError(f"no model called {name!r} in the catalog; it has {names()}")


def tokens_per_parameter(record) -> float | None:
    """``tokens / parameters`` of a record (a dict from :func:`models`), or None if either is unknown."""
    if not isinstance(record, dict):
        raise TypeError(f"record must be a dict from d2lt.catalog.models(), got {check.describe(record)}")
    missing = [f for f in ("name", "parameters", "tokens") if f not in record]
    if missing:
        raise ValueError(f"record must have the fields name, parameters and tokens; missing {missing}")
    n, d = record["parameters"], record["tokens"]
    if n is None or d is None:
        return None
    n = check.number(n, f"{record['name']}: parameters", 0, strict=True)
    d = check.number(d, f"{record['name']}: tokens", 0, strict=True)
    return d / n
