"""From text to ids: tokenisation, a vocabulary with reserved tokens, padded batches."""
from __future__ import annotations

import collections
import json
import numbers
import re
from collections.abc import Iterable, Mapping

import torch

from . import validate as check

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
RESERVED = (PAD, BOS, EOS, UNK)

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


_SPLIT_HINT = "split text into tokens first, e.g. with tokenize(text)"


def _sequence(value, name, what):
    """``value`` as a list, refusing a bare string, a dict and non-iterables."""
    return check.sequence(value, name, what, hint=_SPLIT_HINT)


def _token_list(line, name):
    """A list (or tuple) of str tokens, or a TypeError naming the first entry that is not one."""
    if isinstance(line, (list, tuple)) and all(isinstance(t, str) for t in line):
        return line  # the common case, checked quickly
    line = _sequence(line, name, "a list of tokens (str)")
    for j, t in enumerate(line):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{j}] must be a token (str), got {check.describe(t)}")
    return line


def tokenize(text: str, lower: bool = True) -> list:
    """Split ``text`` into words and single punctuation marks.

    >>> tokenize("God said, \\"Let there be light.\\"")
    ['god', 'said', ',', '"', 'let', 'there', 'be', 'light', '.', '"']
    """
    check.string(text, "text")
    check.boolean(lower, "lower")
    return _TOKEN.findall(text.lower() if lower else text)


def _flatten(tokens):
    """All tokens of a list of tokens or of a list of token lists (not a mix of the two)."""
    tokens = _sequence(tokens, "tokens", "a list of tokens or a list of token lists")
    if all(isinstance(t, str) for t in tokens):
        return tokens
    flat = []
    for i, line in enumerate(tokens):
        if isinstance(line, str):
            raise TypeError(f"tokens mixes tokens and token lists: tokens[{i}] is the str {line!r}, "
                            "others are lists; pass a list of tokens or a list of token lists")
        if not isinstance(line, (list, tuple)):
            raise TypeError(f"tokens[{i}] must be a token (str) or a list of tokens, got {type(line).__name__}")
        flat.extend(line if all(isinstance(t, str) for t in line) else _token_list(line, f"tokens[{i}]"))
    return flat


class Vocab:
    """Token <-> id mapping; ids 0-3 are ``<pad> <bos> <eos> <unk>``, then by frequency.

    ``tokens`` is a list of tokens or a list of token lists (a bare string is
    refused: split it with :func:`tokenize` first). Tokens seen fewer than
    ``min_freq`` times map to ``<unk>``; ``max_size`` caps the vocabulary
    (reserved tokens included). Indexing takes a token or a (nested) list of
    tokens, like ``d2l.Vocab``; :meth:`to_tokens` takes an id or a (nested)
    list of ids.
    """

    def __init__(self, tokens=(), min_freq: int = 1, reserved_tokens=(), max_size: int | None = None):
        check.integer(min_freq, "min_freq", low=1)
        if max_size is not None:  # the reserved tokens count towards max_size
            check.integer(max_size, "max_size", low=len(RESERVED) + 1)
        reserved_tokens = _token_list(reserved_tokens, "reserved_tokens")
        counter = collections.Counter(_flatten(tokens))
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
        hint = (" (to turn ids into tokens, use to_tokens)"
                if isinstance(tokens, (numbers.Number, torch.Tensor)) else "")
        raise TypeError(f"expected a token (str) or a (nested) list of tokens, got {type(tokens).__name__}{hint}")

    def _check_id(self, i, where=""):
        if not 0 <= i < len(self):
            raise ValueError(f"id must be in [0, {len(self)}) for a vocabulary of size {len(self)}, "
                             f"got {i}{where}")
        return i

    def to_tokens(self, indices):
        """The token of an id, or the tokens of a (nested) list or tensor of ids."""
        if isinstance(indices, torch.Tensor):
            if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
                raise TypeError(f"ids must be integers, got a tensor of dtype {indices.dtype}")
            indices = indices.tolist()
        if isinstance(indices, numbers.Integral) and not isinstance(indices, bool):
            return self.idx_to_token[self._check_id(int(indices))]
        if isinstance(indices, (str, bytes)):
            raise TypeError(f"to_tokens takes ids (an int or a list of ints), got the {type(indices).__name__} "
                            f"{indices[:40]!r}; to turn tokens into ids, index the vocabulary: vocab[tokens]")
        if isinstance(indices, Iterable) and not isinstance(indices, Mapping):
            return [self.to_tokens(i) for i in indices]
        raise TypeError(f"to_tokens takes an int id or a (nested) list of int ids, got {type(indices).__name__} "
                        f"{indices!r}"[:160])

    pad = property(lambda self: self.token_to_idx[PAD])
    bos = property(lambda self: self.token_to_idx[BOS])
    eos = property(lambda self: self.token_to_idx[EOS])
    unk = property(lambda self: self.token_to_idx[UNK])

    def to_json(self) -> str:
        return json.dumps(self.idx_to_token, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        """The vocabulary that :meth:`to_json` wrote."""
        if not isinstance(text, str):
            raise TypeError(f"text must be the str that Vocab.to_json wrote, got {type(text).__name__}")
        try:
            tokens = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not a serialised Vocab: the text is not valid JSON ({e}): {text[:80]!r}") from e
        if not isinstance(tokens, list) or tokens[: len(RESERVED)] != list(RESERVED):
            raise ValueError("not a serialised Vocab: expected a JSON list starting with "
                             f"{list(RESERVED)}, got {str(tokens)[:80]}")
        bad = [t for t in tokens if not isinstance(t, str)]
        if bad:
            raise ValueError(f"not a serialised Vocab: every token must be a str, got {bad[:3]!r}")
        if len(set(tokens)) != len(tokens):
            dup = [t for t, n in collections.Counter(tokens).items() if n > 1]
            raise ValueError(f"not a serialised Vocab: tokens appear twice: {dup[:5]!r}")
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
    ``token_lists`` holds at least one list of tokens (an empty list of tokens
    is fine: it encodes to ``<eos>`` or nothing).
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a d2lt.text.Vocab, got {type(vocab).__name__}")
    num_steps = check.integer(num_steps, "num_steps", low=1)
    check.boolean(bos, "bos")
    check.boolean(eos, "eos")
    what = "a list of token lists, e.g. [tokenize(s) for s in texts]"
    token_lists = _sequence(token_lists, "token_lists", what)
    if not token_lists:
        raise ValueError(f"token_lists is empty: expected {what}")
    for i, toks in enumerate(token_lists):
        if isinstance(toks, str):
            raise TypeError(f"token_lists must be {what}; token_lists[{i}] is the str {toks[:40]!r} "
                            "(for one sentence, pass [tokens])")
        token_lists[i] = _token_list(toks, f"token_lists[{i}]")
    ids = torch.full((len(token_lists), num_steps), vocab.pad, dtype=torch.long)
    lens = torch.zeros(len(token_lists), dtype=torch.long)
    for i, toks in enumerate(token_lists):
        seq = ([vocab.bos] if bos else []) + vocab[list(toks)] + ([vocab.eos] if eos else [])
        seq = seq[:num_steps]
        ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        lens[i] = len(seq)
    return ids, lens


def decode(ids, vocab: Vocab, stop_at_eos: bool = True) -> list:
    """Ids back to tokens, dropping ``<bos>``/``<pad>`` and stopping at ``<eos>``.

    ``ids`` is one sequence: a 1-D integer tensor or a list of ints, each in
    ``[0, len(vocab))``.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a d2lt.text.Vocab, got {type(vocab).__name__}")
    check.boolean(stop_at_eos, "stop_at_eos")
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"ids must be one sequence (1-D), got shape {tuple(ids.shape)}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"ids must be integer ids, got a tensor of dtype {ids.dtype}")
        ids = ids.tolist()
    else:
        ids = _sequence(ids, "ids", "one sequence of int ids (a list or a 1-D tensor)")
        for j, i in enumerate(ids):
            if isinstance(i, (list, tuple)) or getattr(i, "ndim", 0) > 0:  # a list, tensor or array row
                raise ValueError(f"ids must be one sequence (1-D): ids[{j}] is a sequence; "
                                 "decode each row separately")
            if isinstance(i, torch.Tensor) and not (i.is_floating_point() or i.is_complex()
                                                    or i.dtype == torch.bool):
                ids[j] = i = i.item()
            if not isinstance(i, numbers.Integral) or isinstance(i, bool):
                raise TypeError(f"ids must be int ids, got ids[{j}] = {check.describe(i)}")
    for j, i in enumerate(ids):
        vocab._check_id(i, f" at position {j}")
    out = []
    for i in ids:
        if stop_at_eos and i == vocab.eos:
            break
        if i in (vocab.pad, vocab.bos):
            continue
        out.append(vocab.idx_to_token[i])
    return out
