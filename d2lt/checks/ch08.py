"""Checks for the chapter-8 exercises (fine-tuning a pretrained encoder).

Every check builds its own test material, computes the right answer with its
own code (or with ``transformers``') and compares; a failure says what is
wrong without printing the answer.
"""
import math

import torch
from torch.nn import functional as F

from . import expect, not_none, passed
from .. import finetune as ft
from ..bert import BERTEncoder


def _shape(x):
    return tuple(x.shape) if torch.is_tensor(x) else type(x).__name__


# ------------------------------------------------------------------ task 1: cosine schedule

def task1(cosine_warmup):
    """``cosine_warmup(step, total_steps, warmup_steps) -> float``: the learning-rate multiplier
    with a linear warm-up to 1 over ``warmup_steps``, then half a cosine from 1 down to 0 at
    ``total_steps`` (checked at steps 0 to ``total_steps``)."""
    not_none(cosine_warmup, "task 1")
    from transformers import get_cosine_schedule_with_warmup

    for total, warm in ((50, 5), (37, 0), (20, 19), (101, 13)):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        ref = get_cosine_schedule_with_warmup(opt, warm, total)
        for step in range(total + 1):
            want = opt.param_groups[0]["lr"]
            got = cosine_warmup(step, total, warm)
            expect(isinstance(got, (int, float)) and not isinstance(got, bool)
                   or torch.is_tensor(got) and got.numel() == 1,
                   f"expected a number, got {_shape(got)}")
            expect(abs(float(got) - want) < 1e-9,
                   f"total_steps={total}, warmup_steps={warm}: the multiplier at step {step} is "
                   "wrong; warm up linearly from 0, then let a half cosine run over the steps "
                   "after the warm-up only, reaching 0 at total_steps")
            opt.step()
            ref.step()
    return passed("task 1")


# ------------------------------------------------------------------ task 2: layer-wise rates

def _classifier(num_blks, head_layers, seed):
    torch.manual_seed(seed)
    enc = BERTEncoder(40, 16, 32, 2, num_blks, 0.0, max_len=24)
    return ft.SentenceClassifier(enc, 2, pooling="mean", head_layers=head_layers)


def _expected_lr(name, num_blks, base_lr, decay):
    if not name.startswith("encoder."):
        return base_lr                                     # the added layers
    if name.startswith("encoder.blks."):
        i = int(name.split(".")[2])
        return base_lr * decay ** (num_blks - i)           # top block: base_lr * decay
    return base_lr * decay ** (num_blks + 1)               # embeddings, below every block


def task2(layerwise_groups):
    """``layerwise_groups(model, base_lr, decay) -> [{"params": [...], "lr": float}, ...]``:
    optimizer groups for a :class:`d2lt.finetune.SentenceClassifier` in which the added layers
    get ``base_lr``, block ``i`` of ``L`` gets ``base_lr * decay ** (L - i)`` and everything
    below the blocks (the embeddings and their layer norm) ``base_lr * decay ** (L + 1)``."""
    not_none(layerwise_groups, "task 2")
    for trial, (L, head, base, decay) in enumerate(((2, 1, 1e-3, 0.5), (3, 2, 2e-4, 0.8),
                                                    (1, 1, 5e-5, 0.9))):
        model = _classifier(L, head, 800 + trial)
        groups = layerwise_groups(model, base, decay)
        expect(isinstance(groups, (list, tuple)) and groups
               and all(isinstance(g, dict) and "params" in g and "lr" in g for g in groups),
               "expected a non-empty list of dicts with 'params' and 'lr', got "
               f"{type(groups).__name__}")
        lr_of = {}
        for g in groups:
            for p in g["params"]:
                expect(isinstance(p, torch.nn.Parameter), "every entry of 'params' must be a "
                       f"parameter of the model, got {_shape(p)}")
                expect(id(p) not in lr_of, "a parameter appears in more than one group (or twice "
                       "in one): each must be in exactly one")
                lr_of[id(p)] = float(g["lr"])
        names = dict(model.named_parameters())
        missing = [n for n, p in names.items() if id(p) not in lr_of]
        expect(not missing, f"{len(missing)} of the model's {len(names)} parameters are in no "
               "group; look for parameters that are not inside a submodule's Linear or Embedding")
        expect(len(lr_of) == len(names), "the groups hold tensors that are not the model's "
               "parameters")
        for n, p in names.items():
            want = _expected_lr(n, L, base, decay)
            expect(math.isclose(lr_of[id(p)], want, rel_tol=1e-9),
                   f"trial {trial + 1} ({L} blocks): a parameter has the wrong learning rate; "
                   "the higher a layer, the larger its rate, and the added layers get base_lr")
    return passed("task 2")


# ------------------------------------------------------------------ task 3: distillation loss

def task3(distill_loss):
    """``distill_loss(student_logits (B,C), teacher_logits (B,C), labels (B,), T, alpha)``:
    ``alpha * T**2 * KL(softmax(teacher/T) || softmax(student/T))`` (mean over the batch)
    ``+ (1 - alpha) * cross_entropy(student, labels)``."""
    not_none(distill_loss, "task 3")
    for trial, (B, C, T, alpha) in enumerate(((6, 2, 2.0, 0.5), (5, 4, 4.0, 0.9),
                                              (8, 3, 1.0, 0.3), (4, 5, 3.0, 1.0))):
        g = torch.Generator().manual_seed(900 + trial)
        s = torch.randn(B, C, generator=g) * 2
        t = torch.randn(B, C, generator=g) * 3
        y = torch.randint(0, C, (B,), generator=g)
        kl = (F.softmax(t / T, -1) * (F.log_softmax(t / T, -1) - F.log_softmax(s / T, -1))).sum(-1)
        want = alpha * T * T * kl.mean() + (1 - alpha) * F.cross_entropy(s, y)
        sr = s.clone().requires_grad_(True)
        got = distill_loss(sr, t.clone(), y.clone(), T, alpha)
        expect(torch.is_tensor(got) and got.numel() == 1,
               f"expected a scalar tensor, got {_shape(got)}")
        expect(torch.allclose(got.reshape(()).double(), want.double(), atol=1e-5),
               f"trial {trial + 1} (T={T}, alpha={alpha}): the loss differs; soften both "
               "distributions by T, take KL from the teacher's to the student's, scale it by "
               "T squared, and mix with the hard-label cross-entropy")
        expect(got.requires_grad, "the loss must stay differentiable in the student's logits")
    return passed("task 3")


# ------------------------------------------------------------------ task 4: class prototypes

def _prototype(train_X, train_y, test_X):
    Z = F.normalize(train_X, dim=1)
    C = int(train_y.max()) + 1
    means = torch.stack([Z[train_y == c].mean(0) for c in range(C)])  # (C, D)
    return (F.normalize(test_X, dim=1) @ F.normalize(means, dim=1).T).argmax(1)


def task4(prototype_predict):
    """``prototype_predict(train_X (N,D), train_y (N,), test_X (M,D)) -> (M,)`` class ids:
    normalise every feature vector to unit length, average the training vectors of each
    class, and give each test vector the class whose mean has the largest cosine
    similarity with it."""
    not_none(prototype_predict, "task 4")
    for trial, (C, D, per) in enumerate(((2, 8, 12), (3, 16, 9), (4, 6, 15))):
        g = torch.Generator().manual_seed(1000 + trial)
        centres = torch.randn(C, D, generator=g)
        spread = torch.linspace(0.4, 2.0, C)                       # classes of different spread
        train_y = torch.arange(C).repeat_interleave(per)
        scale = torch.rand(C * per, 1, generator=g) * 20 + 0.05   # lengths vary a lot
        train_X = (centres[train_y] + spread[train_y, None]
                   * torch.randn(C * per, D, generator=g)) * scale
        test_X = torch.randn(60, D, generator=g) * 3 * (torch.rand(60, 1, generator=g) * 10 + 0.1)
        perm = torch.randperm(C * per, generator=g)
        train_X, train_y = train_X[perm], train_y[perm]
        want = _prototype(train_X, train_y, test_X)
        got = prototype_predict(train_X.clone(), train_y.clone(), test_X.clone())
        expect(torch.is_tensor(got) and tuple(got.shape) == (60,),
               f"expected a tensor of shape (60,), got {_shape(got)}")
        expect(not got.is_floating_point(), "expected integer class ids")
        wrong = int((got.cpu() != want).sum())
        expect(wrong == 0, f"trial {trial + 1}: {wrong} of 60 test vectors get another class; "
               "normalise the vectors before averaging, and compare directions, not distances")
    return passed("task 4")
