"""From text to ids: tokenisation, a vocabulary with reserved tokens, padded batches."""
from __future__ import annotations

import collections
import json
import re

import torch

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
RESERVED = (PAD, BOS, EOS, UNK)

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, lower: bool = True) -> list:
    """Split ``text`` into words and single punctuation marks.

    >>> tokenize("God said, \\"Let there be light.\\"")
    ['god', 'said', ',', '"', 'let', 'there', 'be', 'light', '.', '"']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower() if lower else text)


def _flatten(tokens):
    if tokens and isinstance(tokens[0], (list, tuple)):
        return [t for line in tokens for t in line]
    return list(tokens)


class Vocab:
    """Token <-> id mapping; ids 0-3 are ``<pad> <bos> <eos> <unk>``, then by frequency.

    ``tokens`` is a list of tokens or a list of token lists. Tokens seen fewer
    than ``min_freq`` times map to ``<unk>``; ``max_size`` caps the vocabulary
    (reserved tokens included). Indexing takes a token or a (nested) list of
    tokens, like ``d2l.Vocab``.
    """

    def __init__(self, tokens=(), min_freq: int = 1, reserved_tokens=(), max_size: int | None = None):
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be a positive int, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size <= len(RESERVED)):
            raise ValueError(f"max_size must be None or an int > {len(RESERVED)}, got {max_size!r}")
        counter = collections.Counter(_flatten(list(tokens)))
        specials = list(RESERVED) + [t for t in reserved_tokens if t not in RESERVED]
        self.token_freqs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        self.idx_to_token = list(specials)
        seen = set(specials)
        for tok, freq in self.token_freqs:
            if freq < min_freq or (max_size is not None and len(self.idx_to_token) >= max_size):
                break
            if tok not in seen:
                self.idx_to_token.append(tok)
                seen.add(tok)
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if isinstance(tokens, str):
            return self.token_to_idx.get(tokens, self.unk)
        if isinstance(tokens, (list, tuple)):
            return [self.__getitem__(t) for t in tokens]
        raise TypeError(f"expected a token (str) or a list of tokens, got {type(tokens).__name__}")

    def to_tokens(self, indices):
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        if isinstance(indices, int):
            if not 0 <= indices < len(self):
                raise ValueError(f"id must be in [0, {len(self)}), got {indices}")
            return self.idx_to_token[indices]
        return [self.to_tokens(i) for i in indices]

    pad = property(lambda self: self.token_to_idx[PAD])
    bos = property(lambda self: self.token_to_idx[BOS])
    eos = property(lambda self: self.token_to_idx[EOS])
    unk = property(lambda self: self.token_to_idx[UNK])

    def to_json(self) -> str:
        return json.dumps(self.idx_to_token, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        tokens = json.loads(text)
        if not isinstance(tokens, list) or tokens[: len(RESERVED)] != list(RESERVED):
            raise ValueError("not a serialised Vocab: expected a JSON list starting with "
                             f"{list(RESERVED)}, got {str(tokens)[:80]}")
        v = cls()
        v.idx_to_token = tokens
        v.token_to_idx = {t: i for i, t in enumerate(tokens)}
        return v

    def __repr__(self):
        return f"Vocab(size={len(self)}, first={self.idx_to_token[4:12]})"


def encode(token_lists, vocab: Vocab, num_steps: int, bos: bool = False, eos: bool = True):
    """Turn token lists into a padded id tensor ``(N, num_steps)`` and valid lengths ``(N,)``.

    Each sequence gets ``<bos>`` in front if ``bos``, ``<eos>`` at the end if
    ``eos``, then is truncated to ``num_steps`` and padded with ``<pad>``.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a d2lt.text.Vocab, got {type(vocab).__name__}")
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    if isinstance(token_lists, str) or (token_lists and isinstance(token_lists[0], str)):
        raise TypeError("token_lists must be a list of token lists, e.g. [tokenize(s) for s in texts]")
    ids = torch.full((len(token_lists), num_steps), vocab.pad, dtype=torch.long)
    lens = torch.zeros(len(token_lists), dtype=torch.long)
    for i, toks in enumerate(token_lists):
        seq = ([vocab.bos] if bos else []) + vocab[list(toks)] + ([vocab.eos] if eos else [])
        seq = seq[:num_steps]
        ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        lens[i] = len(seq)
    return ids, lens


def decode(ids, vocab: Vocab, stop_at_eos: bool = True) -> list:
    """Ids back to tokens, dropping ``<bos>``/``<pad>`` and stopping at ``<eos>``."""
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a d2lt.text.Vocab, got {type(vocab).__name__}")
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"ids must be one sequence (1-D), got shape {tuple(ids.shape)}")
        ids = ids.tolist()
    out = []
    for i in ids:
        if stop_at_eos and i == vocab.eos:
            break
        if i in (vocab.pad, vocab.bos):
            continue
        out.append(vocab.to_tokens(int(i)))
    return out
