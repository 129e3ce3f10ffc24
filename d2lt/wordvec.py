"""Word vectors without a training loop: co-occurrence counts, PPMI, truncated SVD.

Chapter 3 needs vectors for real words to show attention on language. This
module builds them with the classic count-based recipe (Levy, Goldberg and
Dagan, 2015, "Improving distributional similarity with lessons learned from
word embeddings"):

1. ``cooccurrence``: ``C[w, c]`` counts how often token ``c`` occurs within
   ``window`` positions of token ``w`` (both directions, so ``C`` is symmetric);
2. ``ppmi``: positive pointwise mutual information, how much more often two
   tokens meet than independent choices would predict::

       PPMI(w, c) = max(0, log( C[w, c] * N / (C[w, :].sum() * C[:, c].sum()) )),
       N = C.sum()

   (0 where a pair or a token was never seen);
3. ``ppmi_vectors``: keep the top ``dim`` singular directions of the PPMI
   matrix, ``E = U_d diag(s_d)^(1/2)``, and normalise every row to length 1.
   Tokens used in similar contexts get similar directions.

The reserved tokens of a ``d2lt.text.Vocab`` (``<pad>``, ``<bos>``, ``<eos>``,
``<unk>``: the first ``reserved`` ids) take no part in the counts and get the
zero vector.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from . import validate as check
from .core import check_seed, seeded

__all__ = ["cooccurrence", "ppmi", "ppmi_vectors", "neighbours"]


def _as_id_tensors(sentences, vocab_size):
    if isinstance(sentences, (str, bytes, torch.Tensor)) or not hasattr(sentences, "__iter__"):
        raise TypeError("sentences must be a list of id sequences (1-D int tensors or lists of "
                        f"ints), got {type(sentences).__name__}")
    out = []
    for i, s in enumerate(sentences):
        if isinstance(s, str):
            raise TypeError(f"sentence {i} must be a sequence of token ids, got a string {s[:30]!r} "
                            "(map tokens to ids with a Vocab first)")
        t = s if isinstance(s, torch.Tensor) else torch.as_tensor(list(s), dtype=torch.long)
        if t.dim() != 1:
            raise ValueError(f"sentence {i} must be 1-D, got shape {tuple(t.shape)}")
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
            raise TypeError(f"sentence {i} must hold integer ids, got dtype {t.dtype}")
        if len(t) and (int(t.min()) < 0 or int(t.max()) >= vocab_size):
            raise ValueError(f"sentence {i} holds ids outside [0, {vocab_size}): "
                             f"min {int(t.min())}, max {int(t.max())}")
        out.append(t.long().cpu())
    if not out:
        raise ValueError("sentences is empty: expected at least one sentence")
    return out


def cooccurrence(sentences, vocab_size: int, window: int = 2, reserved: int = 4) -> torch.Tensor:
    """Symmetric ``(V, V)`` counts: ``C[w, c]`` = occurrences of ``c`` within ``window`` of ``w``.

    ``sentences``: a list of 1-D integer tensors (or lists) of ids in ``[0, vocab_size)``.
    Pairs are counted at offsets ``1 .. window`` in both directions; rows and columns
    of the first ``reserved`` ids are set to 0.
    """
    V = check.integer(vocab_size, "vocab_size", low=1)
    window = check.integer(window, "window", low=1)
    reserved = check.integer(reserved, "reserved", low=0)
    if reserved >= V:
        raise ValueError(f"reserved ({reserved}) must be smaller than vocab_size ({V})")
    ids = _as_id_tensors(sentences, V)
    lefts = [s[:-o] for s in ids for o in range(1, window + 1) if len(s) > o]
    rights = [s[o:] for s in ids for o in range(1, window + 1) if len(s) > o]
    C = torch.zeros(V * V)
    if lefts:
        left, right = torch.cat(lefts), torch.cat(rights)
        pairs = torch.cat([left * V + right, right * V + left])
        C.index_add_(0, pairs, torch.ones(len(pairs)))
    C = C.view(V, V)
    C[:reserved], C[:, :reserved] = 0, 0
    return C


def ppmi(C: torch.Tensor) -> torch.Tensor:
    """Positive pointwise mutual information of a ``(V, V)`` count matrix (see the module doc)."""
    check.tensor(C, "C", dims=2, shape="(V, V) (a square matrix of counts)")
    if C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be a square (V, V) tensor of counts, got shape {tuple(C.shape)}")
    C = C.float()
    if not torch.isfinite(C).all() or (C < 0).any():
        raise ValueError("C must hold finite, non-negative counts")
    if C.sum() == 0:
        raise ValueError("C is all zeros: no pair was counted (sentences too short?)")
    expected = C.sum(1, keepdim=True) * C.sum(0, keepdim=True) / C.sum()  # (V, V)
    return torch.log(C / expected).clamp_min(0).nan_to_num(0)


def ppmi_vectors(sentences, vocab_size: int, dim: int, window: int = 2, reserved: int = 4,
                 seed: int = 0, niter: int = 4) -> torch.Tensor:
    """Unit word vectors ``(vocab_size, dim)`` from the truncated SVD of the PPMI matrix.

    ``E = normalize(U_d diag(s_d)^(1/2))`` row by row, where ``U_d, s_d`` are the top
    ``dim`` singular vectors and values of ``ppmi(cooccurrence(...))`` (a randomized
    SVD, ``torch.svd_lowrank`` with ``niter`` power iterations, seeded by ``seed``
    without touching the global random state). Reserved ids get the zero vector.
    """
    V = check.integer(vocab_size, "vocab_size", low=1)
    dim = check.integer(dim, "dim", low=1)
    check_seed(seed)
    check.integer(niter, "niter", low=0)
    if dim > V - reserved:
        raise ValueError(f"dim must be at most vocab_size - reserved = {V - reserved}, got {dim}")
    M = ppmi(cooccurrence(sentences, V, window, reserved))
    with seeded(seed):
        U, s, _ = torch.svd_lowrank(M, q=dim, niter=niter)
    E = F.normalize(U * s.sqrt(), dim=1)  # (V, dim)
    E[:reserved] = 0  # no contexts, hence no direction
    return E


def neighbours(E: torch.Tensor, vocab, word: str, k: int = 5) -> list:
    """The ``k`` tokens whose rows of ``E`` have the largest dot product with ``word``'s row."""
    check.tensor(E, "E", dims=2, shape="(V, d)")
    check.string(word, "word")
    if len(vocab) != E.shape[0]:
        raise ValueError(f"vocab has {len(vocab)} tokens but E has {E.shape[0]} rows")
    k = check.integer(k, "k", low=1)
    if k >= E.shape[0]:
        raise ValueError(f"k must be smaller than the vocabulary size {E.shape[0]}, got {k}")
    i = vocab[word]
    if i == vocab.unk and word != vocab.idx_to_token[vocab.unk]:
        raise ValueError(f"{word!r} is not in the vocabulary")
    sims = E @ E[i]
    sims[i] = -float("inf")
    return [vocab.idx_to_token[j] for j in sims.topk(k).indices.tolist()]
