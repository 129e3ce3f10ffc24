"""A Vision Transformer (chapter 13; Dosovitskiy et al., 2020, "An Image is Worth 16x16 Words").

Shapes: B = batch, C = image channels, H x W = image size, p = patch size,
N = (H / p)(W / p) patches, D = ``num_hiddens``, h = heads, K = classes.

An image is cut into N square patches of p x p pixels; each patch, flattened
to ``C p^2`` numbers, is mapped linearly to a D-vector (a *patch token*). A
learned ``<cls>`` vector is put in front, learned position embeddings are
added, and the N + 1 tokens pass through Transformer encoder blocks (full,
bidirectional self-attention). The ``<cls>`` token's output is classified::

    tokens = [cls; x_1 E; ...; x_N E] + E_pos        # (B, N + 1, D)
    Z = blocks(dropout(tokens));  logits = W_head Z[:, 0] + b

The linear map of flattened patches is a convolution whose kernel and stride
are both p (:class:`PatchEmbedding`; the tests check it against
``torch.nn.functional.unfold`` followed by the same matrix). The blocks are the
course's :class:`d2lt.transformer.TransformerEncoderBlock` (chapter 6) with
GELU, as in BERT; they are post-norm, where the ViT paper normalises first
(pre-norm, like GPT-2): for the shallow stacks trained here both work.

Names follow the ``d2l`` book's ViT section (``PatchEmbedding(img_size,
patch_size, num_hiddens)``, ``ViT(img_size, patch_size, num_hiddens,
mlp_num_hiddens, num_heads, num_blks, emb_dropout, blk_dropout, use_bias,
num_classes)``) with two differences: the book's ``lr`` argument is gone
(training is :func:`d2lt.train.fit`'s business), and the number of image
channels is given (``in_channels``, default 1) instead of inferred by a lazy
layer. :func:`load_digits_split` gives scikit-learn's 8 x 8 digit
images (they ship with scikit-learn, offline) with a fixed, seeded split.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from . import validate as check
from .transformer import TransformerEncoderBlock

__all__ = ["PatchEmbedding", "ViT", "patches", "num_patches", "vit_step", "accuracy", "predict",
           "load_digits_split", "DIGITS_SEED"]

DIGITS_SEED = 0  # the split of load_digits_split used by chapter 13


def _pair(value, name):
    """An int or a pair of ints, each >= 1, as a tuple (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}")
        return tuple(check.integer(v, name, 1) for v in value)
    v = check.integer(value, name, 1, what="an int >= 1 or a pair (height, width)")
    return (v, v)


def num_patches(img_size, patch_size) -> int:
    """How many ``patch_size`` patches tile an ``img_size`` image (both divisible, checked)."""
    (H, W), (ph, pw) = _pair(img_size, "img_size"), _pair(patch_size, "patch_size")
    if H % ph or W % pw:
        raise ValueError(f"patch_size {(ph, pw)} must divide img_size {(H, W)} exactly")
    return (H // ph) * (W // pw)


def _check_images(X, channels, size):
    check.tensor(X, "X", dims=4, shape=f"(B, {channels}, {size[0]}, {size[1]})", kind="float")
    if tuple(X.shape[1:]) != (channels, *size):
        raise ValueError(f"X must have shape (B, {channels}, {size[0]}, {size[1]}), "
                         f"got {tuple(X.shape)}")


def patches(X, patch_size) -> torch.Tensor:
    """The patches of images ``X (B, C, H, W)`` flattened, row by row: ``(B, N, C p_h p_w)``.

    Each patch is flattened channel first, then row, then column (the order
    of a convolution kernel's weights), so ``patches(X, p) @ W.flatten(1).T``
    is the patch embedding with convolution weights ``W``.
    """
    check.tensor(X, "X", dims=4, shape="(B, C, H, W)", kind="float")
    ph, pw = _pair(patch_size, "patch_size")
    num_patches(tuple(X.shape[2:]), (ph, pw))
    B, C, H, W = X.shape
    x = X.reshape(B, C, H // ph, ph, W // pw, pw)          # (B, C, H/p, p, W/p, p)
    x = x.permute(0, 2, 4, 1, 3, 5)                        # (B, H/p, W/p, C, p, p)
    return x.reshape(B, (H // ph) * (W // pw), C * ph * pw)  # (B, N, C p^2)


class PatchEmbedding(nn.Module):
    """Cut images into patches and map each linearly to ``num_hiddens``: ``(B, C, H, W) -> (B, N, D)``.

    A ``Conv2d`` with kernel size = stride = ``patch_size`` (no overlap) is
    exactly one shared linear map applied to every flattened patch.
    """

    def __init__(self, img_size=96, patch_size=16, num_hiddens=512, in_channels=1):
        super().__init__()
        self.img_size = _pair(img_size, "img_size")
        self.patch_size = _pair(patch_size, "patch_size")
        self.num_patches = num_patches(self.img_size, self.patch_size)
        self.in_channels = check.integer(in_channels, "in_channels", 1)
        self.conv = nn.Conv2d(self.in_channels, check.integer(num_hiddens, "num_hiddens", 1),
                              kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, X):
        _check_images(X, self.in_channels, self.img_size)
        return self.conv(X).flatten(2).transpose(1, 2)      # (B, D, H/p, W/p) -> (B, N, D)


class ViT(nn.Module):
    """Patch embedding, ``<cls>``, learned positions, encoder blocks, a linear head on ``<cls>``.

    ``forward(X (B, C, H, W)) -> logits (B, num_classes)``.
    :attr:`attention_weights` lists each block's ``(B, h, N + 1, N + 1)``
    attention of the last call; row 0 is what ``<cls>`` looked at.
    """

    def __init__(self, img_size, patch_size, num_hiddens, mlp_num_hiddens, num_heads, num_blks,
                 emb_dropout=0.0, blk_dropout=0.0, use_bias=False, num_classes=10, in_channels=1):
        super().__init__()
        num_hiddens = check.integer(num_hiddens, "num_hiddens", 1)
        num_blks = check.integer(num_blks, "num_blks", 1)
        self.num_classes = check.integer(num_classes, "num_classes", 2)
        self.patch_embedding = PatchEmbedding(img_size, patch_size, num_hiddens, in_channels)
        n = self.patch_embedding.num_patches + 1               # the patches and <cls>
        self.cls_token = nn.Parameter(torch.zeros(1, 1, num_hiddens))
        self.pos_embedding = nn.Parameter(torch.randn(1, n, num_hiddens) * 0.02)
        self.dropout = nn.Dropout(check.dropout(emb_dropout, "emb_dropout"))
        self.blks = nn.Sequential(*[
            TransformerEncoderBlock(num_hiddens, mlp_num_hiddens, num_heads, blk_dropout, use_bias,
                                    activation="gelu") for _ in range(num_blks)])
        self.head = nn.Linear(num_hiddens, self.num_classes)

    @property
    def img_size(self):
        return self.patch_embedding.img_size

    def tokens(self, X):
        """The encoder's input: ``<cls>`` and the patch tokens plus positions, ``(B, N + 1, D)``."""
        P = self.patch_embedding(X)                              # (B, N, D)
        cls = self.cls_token.expand(P.shape[0], -1, -1)          # (B, 1, D)
        return self.dropout(torch.cat([cls, P], 1) + self.pos_embedding)

    def encode(self, X):
        """The last block's output ``(B, N + 1, D)``; position 0 is ``<cls>``."""
        Z = self.tokens(X)
        for blk in self.blks:
            Z = blk(Z)
        return Z

    def forward(self, X):
        return self.head(self.encode(X)[:, 0])                  # (B, K)

    @property
    def attention_weights(self):
        """Per block, the self-attention weights ``(B, h, N + 1, N + 1)`` of the last call."""
        return [blk.attention.attention_weights for blk in self.blks]


def _check_batch(model, batch):
    if not isinstance(model, ViT):
        raise TypeError(f"model must be a d2lt.vit.ViT, got {check.describe(model)}")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"batch must be a pair (images, labels), got {check.describe(batch)}")
    X, y = batch
    check.tensor(y, "labels", dims=1, shape="(B,)", kind="int")
    check.tensor(X, "images", dims=4, shape="(B, C, H, W)", kind="float")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"images and labels must have the same batch size, got {X.shape[0]} and "
                         f"{y.shape[0]}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= model.num_classes):
        raise ValueError(f"labels must lie in [0, {model.num_classes - 1}], got "
                         f"{int(y.min())}..{int(y.max())}")
    return X, y


def vit_step(model, batch, label_smoothing: float = 0.0):
    """The cross-entropy loss of a batch ``(images (B, C, H, W), labels (B,))`` (for ``train.fit``)."""
    X, y = _check_batch(model, batch)
    smoothing = check.probability(label_smoothing, "label_smoothing", allow_one=False)
    return F.cross_entropy(model(X), y, label_smoothing=smoothing)


@torch.no_grad()
def predict(model, X, batch_size: int = 512) -> torch.Tensor:
    """The predicted class of every image ``X (B, C, H, W)``, in eval mode, as a ``(B,)`` tensor."""
    if not isinstance(model, ViT):
        raise TypeError(f"model must be a d2lt.vit.ViT, got {check.describe(model)}")
    check.tensor(X, "X", dims=4, shape="(B, C, H, W)", kind="float")
    batch_size = check.integer(batch_size, "batch_size", 1)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        out = [model(X[i:i + batch_size].to(device)).argmax(-1).cpu()
               for i in range(0, X.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model, X, y) -> float:
    """The share of images ``X`` whose predicted class is the label ``y``."""
    check.tensor(y, "y", dims=1, shape="(B,)", kind="int", nonempty=True)
    check.tensor(X, "X", dims=4, shape="(B, C, H, W)", kind="float")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must hold the same number of images, got {X.shape[0]} and "
                         f"{y.shape[0]}")
    return (predict(model, X) == y.cpu()).float().mean().item()


def load_digits_split(test_size: float = 0.2, seed: int = DIGITS_SEED):
    """scikit-learn's 1,797 handwritten digits (8 x 8, grey levels 0-16) as tensors, split once.

    Returns ``(X_train, y_train, X_test, y_test)`` with images ``(n, 1, 8, 8)``
    scaled to [0, 1] and labels 0-9. The split is stratified by class and
    fixed by ``seed``: the same images are held out on every machine.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = check.number(test_size, "test_size", 0, 1, strict=True)
    if test_size >= 1:
        raise ValueError(f"test_size must be a share in (0, 1), got {test_size}")
    seed = check.integer(seed, "seed", 0, 2**32 - 1)
    d = load_digits()
    X = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0   # (1797, 1, 8, 8)
    y = torch.tensor(d.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(range(len(y)), test_size=test_size, random_state=seed,
                                           stratify=d.target)
    idx_train, idx_test = torch.tensor(idx_train), torch.tensor(idx_test)
    return X[idx_train], y[idx_train], X[idx_test], y[idx_test]
