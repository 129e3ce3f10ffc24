"""Checks for the chapter-13 exercises (the Transformer family and beyond text).

Every check builds its own test material, computes the right answer with its
own code (or measures it on a model) and compares; a failure says what is
wrong without printing the answer.
"""
import torch

from . import expect, not_none, passed
from .. import catalog, lm
from ..gpt import GPT, GPTConfig
from ..vit import ViT


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: who is above the line

def _above(records, ratio):
    rows = [(r["tokens"] / r["parameters"], i, r["name"]) for i, r in enumerate(records)
            if r["base"] is None and r["parameters"] is not None and r["tokens"] is not None
            and r["tokens"] / r["parameters"] >= ratio]
    return [name for _, _, name in sorted(rows, key=lambda t: (-t[0], t[1]))]


def _synthetic_records(g, n):
    template = dict(catalog.CATALOG[0])
    out = []
    for k in range(n):
        params = int(torch.randint(1, 1000, (1,), generator=g)) * 10**8
        q = float(torch.randint(1, 400, (1,), generator=g)) / 4           # tokens per parameter
        r = dict(template, name=f"model-{k}", parameters=params, tokens=int(params * q))
        u = float(torch.rand(1, generator=g))
        if u < 0.15:
            r["tokens"] = None
        elif u < 0.25:
            r["parameters"] = None
        elif u < 0.4:
            r["base"] = f"model-{max(0, k - 1)}"                      # further trained
        out.append(r)
    return out


def task1(above_line):
    """``above_line(records, ratio=20) -> list of names``: the models trained from scratch (``base``
    None) with both figures published whose tokens per parameter are at least ``ratio``, the most
    tokens per parameter first."""
    not_none(above_line, "task 1")
    g = torch.Generator().manual_seed(1300)
    trials = [(catalog.models(), 20), (catalog.models(), 2)]
    for n, ratio in ((30, 20), (25, 5), (40, 50), (12, 1)):
        recs = _synthetic_records(g, n)
        on = dict(recs[0], name="on-the-line", parameters=7 * 10**10, tokens=7 * 10**10 * ratio,
                  base=None)
        trials.append((recs + [on], ratio))
    for k, (recs, ratio) in enumerate(trials):
        want = _above(recs, ratio)
        got = above_line([dict(r) for r in recs], ratio)
        expect(isinstance(got, list) and all(isinstance(x, str) for x in got),
               f"expected a list of model names, got {type(got).__name__}")
        expect(set(got) == set(want),
               f"trial {k + 1} (ratio {ratio}): the set of models differs; keep the models trained "
               "from scratch whose tokens / parameters is at least the ratio (a model exactly on "
               "the line counts), and skip those with a figure missing")
        expect(got == want, f"trial {k + 1}: the right models, in the wrong order (most tokens "
                            "per parameter first)")
    return passed("task 1")


# ------------------------------------------------------------------ task 2: batch priority routing

def _priority_reference(probs, capacity):
    gate, expert = probs.max(-1)
    keep = torch.zeros(len(gate), dtype=torch.bool)
    taken = {}
    for t in sorted(range(len(gate)), key=lambda t: (-float(gate[t]), t)):
        e = int(expert[t])
        if taken.get(e, 0) < capacity:
            taken[e] = taken.get(e, 0) + 1
            keep[t] = True
    return keep


def task2(priority_keep):
    """``priority_keep(router_probs (N, E), capacity) -> (N,) bool``: top-1 routing in which every
    expert keeps its ``capacity`` most confident tokens (ties: the earlier token first)."""
    not_none(priority_keep, "task 2")
    cases = [(40, 4, 5), (64, 8, 3), (30, 3, 30), (25, 5, 0), (50, 2, 7), (33, 4, 6)]
    for trial, (N, E, cap) in enumerate(cases):
        g = torch.Generator().manual_seed(13_000 + trial)
        probs = torch.softmax(torch.randn(N, E, generator=g) * 2, -1)
        if trial == 4:  # ties: ten equal, confident rows for 7 places; the earlier ones win
            probs[10:20] = torch.tensor([0.97, 0.03])
        want = _priority_reference(probs, cap)
        got = priority_keep(probs.clone(), cap)
        expect(torch.is_tensor(got) and got.dtype == torch.bool and tuple(got.shape) == (N,),
               f"expected a bool tensor of shape ({N},), got "
               f"{_shape(got) if not torch.is_tensor(got) else (tuple(got.shape), got.dtype)}")
        expert = probs.argmax(-1)
        for e in range(E):
            expect(int(got[expert == e].sum()) <= cap,
                   f"N={N}, E={E}: expert {e} keeps more than the capacity {cap}")
        expect(torch.equal(got, want),
               f"N={N}, E={E}, capacity {cap}: {int((got != want).sum())} tokens kept or dropped "
               "wrongly (is each expert serving its most confident tokens first, ties in arrival "
               "order?)")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: a sliding-window mask

def _window(T, w):
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    return (j <= i) & (i - j < w)


def task3(sliding_window_mask):
    """``sliding_window_mask(T, window) -> (T, T) bool``: True where query i may read key j, that is
    ``j <= i`` and ``i - j < window`` (itself and the ``window - 1`` tokens before it)."""
    not_none(sliding_window_mask, "task 3")
    for T, w in ((1, 1), (5, 1), (6, 2), (8, 3), (9, 9), (7, 12), (16, 5), (12, 4)):
        got = sliding_window_mask(T, w)
        expect(torch.is_tensor(got) and tuple(got.shape) == (T, T),
               f"T={T}, window={w}: expected a tensor of shape {(T, T)}, got {_shape(got)}")
        expect(got.dtype == torch.bool, f"expected a bool tensor, got {got.dtype}")
        want = _window(T, w)
        expect(not bool((got & ~torch.ones(T, T, dtype=torch.bool).tril()).any()),
               f"T={T}, window={w}: some query reads a key after it; the window looks back only")
        expect(torch.equal(got, want), f"T={T}, window={w}: the mask differs; each query reads "
                                       "itself and the window - 1 keys just before it")
    m = sliding_window_mask(8, 8)
    expect(torch.equal(m, lm.prefix_mask(8, 0)), "a window as long as the sequence must give the "
                                                 "causal mask")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: how far tokens reach

def _measured_reach(mask, n_layers, seed):
    T = mask.shape[0]
    torch.manual_seed(seed)
    m = GPT(GPTConfig(vocab_size=20, block_size=T, n_layer=n_layers, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 20, (1, T), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        base = lm.mask_forward(m, idx, mask)[0]
        D = torch.zeros(T, T, dtype=torch.bool)
        for j in range(T):
            other = idx.clone()
            other[0, j] = (other[0, j] + 1) % 20
            D[:, j] = (lm.mask_forward(m, other, mask)[0] - base).abs().amax(-1)[0] > 1e-6
    return D


def reach_cases():
    """The (mask, n_layers) pairs task 4 measures: causal, prefix, sliding-window and random masks,
    some without the diagonal (a query that may not read itself)."""
    g = torch.Generator().manual_seed(1340)
    cases = [(lm.prefix_mask(6, 0), 2), (lm.prefix_mask(7, 3), 3), (_window(9, 2), 1),
             (_window(9, 2), 3), (_window(10, 3), 2)]
    for T, n in ((6, 2), (7, 1), (8, 3)):
        M = torch.rand(T, T, generator=g) < 0.25
        M.fill_diagonal_(False)
        M[torch.arange(T), torch.randint(0, T, (T,), generator=g)] = True  # every row reads one key
        if T == 8:
            M |= torch.eye(T, dtype=torch.bool)
        cases.append((M, n))
    return cases


def task4(reach):
    """``reach(mask, n_layers) -> (T, T) bool``: which input tokens can change which outputs of a
    stack of ``n_layers`` pre-norm blocks (attention following ``mask``, residual connections)."""
    not_none(reach, "task 4")
    for k, (mask, n) in enumerate(reach_cases()):
        want = _measured_reach(mask, n, 1341 + k)
        got = reach(mask.clone(), n)
        expect(torch.is_tensor(got) and tuple(got.shape) == tuple(mask.shape),
               f"expected a tensor of shape {tuple(mask.shape)}, got {_shape(got)}")
        expect(got.dtype == torch.bool, f"expected a bool tensor, got {got.dtype}")
        expect(torch.equal(got, want),
               f"case {k + 1} ({mask.shape[0]} tokens, {n} layers): your reach differs from what "
               "changing one token at a time in a real model measures; mind the residual path, "
               "and what a second layer reads through the first")
    return passed("task 4")


# ------------------------------------------------------------------ task 5: parameters of a ViT

def task5(vit_params):
    """``vit_params(img_size, patch_size, in_channels, num_hiddens, mlp_num_hiddens, num_blks,
    num_classes) -> int``: the parameters of ``d2lt.vit.ViT`` (``use_bias=False``), by formula."""
    not_none(vit_params, "task 5")
    g = torch.Generator().manual_seed(1350)
    cases = [(224, 16, 3, 768, 3072, 12, 1000), (8, 4, 1, 64, 128, 2, 10)]
    for _ in range(6):
        p = int(torch.randint(1, 9, (1,), generator=g))
        h = int(torch.randint(1, 5, (1,), generator=g))
        cases.append((p * int(torch.randint(1, 9, (1,), generator=g)), p,
                      int(torch.randint(1, 4, (1,), generator=g)),
                      h * int(torch.randint(2, 20, (1,), generator=g)),
                      int(torch.randint(4, 300, (1,), generator=g)),
                      int(torch.randint(1, 7, (1,), generator=g)),
                      int(torch.randint(2, 50, (1,), generator=g))))
    for img, p, C, D, F, L, K in cases:
        heads = next(h for h in (4, 3, 2, 1) if D % h == 0)
        with torch.device("meta"):
            want = sum(t.numel() for t in ViT(img, p, D, F, heads, L, num_classes=K,
                                                in_channels=C).parameters())
        got = vit_params(img, p, C, D, F, L, K)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"expected an int, got {type(got).__name__}")
        expect(got == want, f"image {img}x{img}x{C}, patch {p}, width {D}, MLP {F}, {L} blocks, "
                            f"{K} classes: the count is off by {abs(got - want):,} parameters")
    return passed("task 5")
