"""d2lt.vit: patches and the patch embedding against unfold and transformers' ViTEmbeddings,
shapes, the <cls> read-out, input checks, and a tiny ViT that overfits a batch."""
import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from d2lt import vit


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("C, H, W, p", [(1, 8, 8, 2), (1, 8, 8, 4), (3, 12, 8, 4), (2, 6, 9, 3),
                                        (1, 8, 8, 8)])
def test_patches_equal_unfold(C, H, W, p):
    X = torch.randn(3, C, H, W)
    ref = F.unfold(X, kernel_size=p, stride=p).transpose(1, 2)        # (B, N, C p^2)
    assert_close(vit.patches(X, p), ref, atol=0, rtol=0)
    assert vit.num_patches((H, W), p) == ref.shape[1]


@pytest.mark.parametrize("p", [2, 4, (2, 4)])
def test_patch_embedding_is_a_linear_map_of_flattened_patches(p):
    emb = vit.PatchEmbedding(8, p, 16, in_channels=2)
    X = torch.randn(5, 2, 8, 8)
    ph, pw = (p, p) if isinstance(p, int) else p
    flat = F.unfold(X, kernel_size=(ph, pw), stride=(ph, pw)).transpose(1, 2)
    W, b = emb.conv.weight.flatten(1), emb.conv.bias                # (D, C p^2), (D,)
    with torch.no_grad():
        assert_close(emb(X), flat @ W.T + b, atol=1e-6, rtol=1e-6)
    assert emb(X).shape == (5, (8 // ph) * (8 // pw), 16)


def test_patch_embedding_matches_an_explicit_conv2d():
    emb = vit.PatchEmbedding((8, 12), 4, 10, in_channels=3)
    conv = torch.nn.Conv2d(3, 10, 4, 4)
    conv.load_state_dict(emb.conv.state_dict())
    X = torch.randn(2, 3, 8, 12)
    with torch.no_grad():
        assert_close(emb(X), conv(X).flatten(2).transpose(1, 2), atol=1e-6, rtol=1e-6)


def test_tokens_match_transformers_vit_embeddings():
    from transformers import ViTConfig
    from transformers.models.vit.modeling_vit import ViTEmbeddings

    cfg = ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=24,
                    hidden_dropout_prob=0.0)
    theirs = ViTEmbeddings(cfg).eval()
    ours = vit.ViT(8, 2, 24, 48, 4, 1).eval()
    with torch.no_grad():
        theirs.cls_token.normal_()
        theirs.position_embeddings.normal_()
        ours.cls_token.copy_(theirs.cls_token)
        ours.pos_embedding.copy_(theirs.position_embeddings)
        ours.patch_embedding.conv.load_state_dict(theirs.patch_embeddings.projection.state_dict())
        X = torch.randn(4, 1, 8, 8)
        assert_close(ours.tokens(X), theirs(X), atol=1e-6, rtol=1e-6)


def test_shapes_and_the_cls_read_out():
    m = vit.ViT((8, 12), 4, 32, 64, 4, 2, num_classes=7, in_channels=3).eval()
    X = torch.randn(5, 3, 8, 12)
    assert m(X).shape == (5, 7)
    Z = m.encode(X)
    assert Z.shape == (5, 6 + 1, 32)
    assert_close(m(X), m.head(Z[:, 0]))
    weights = m.attention_weights
    assert len(weights) == 2 and weights[0].shape == (5, 4, 7, 7)
    assert_close(weights[0].sum(-1), torch.ones(5, 4, 7))


def test_patches_are_unordered_without_positions():
    """Without the position embedding the encoder is permutation-equivariant over the patches:
    the <cls> output does not change when the patches are shuffled (chapter 4's property)."""
    m = vit.ViT(8, 2, 16, 32, 2, 2).eval()
    with torch.no_grad():
        m.pos_embedding.zero_()
        X = torch.randn(3, 1, 8, 8)
        # swap the top-left and bottom-right 4x4 quadrants: a permutation of whole patches
        Y = X.clone()
        Y[..., :4, :4], Y[..., 4:, 4:] = X[..., 4:, 4:], X[..., :4, :4]
        assert_close(m(X), m(Y), atol=1e-5, rtol=1e-5)
        m.pos_embedding.normal_()
        assert not torch.allclose(m(X), m(Y), atol=1e-3)


def test_a_tiny_vit_overfits_a_batch():
    m = vit.ViT(8, 4, 32, 64, 4, 2)
    X, y = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = vit.vit_step(m, (X, y))
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 < first
    assert vit.accuracy(m, X, y) == 1.0


def test_gradients_reach_every_parameter():
    m = vit.ViT(8, 4, 16, 32, 2, 1)
    vit.vit_step(m, (torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_digits_split_is_fixed_and_stratified():
    a = vit.load_digits_split()
    b = vit.load_digits_split()
    for s, t in zip(a, b):
        assert torch.equal(s, t)
    X_train, y_train, X_test, y_test = a
    assert X_train.shape == (1437, 1, 8, 8) and X_test.shape == (360, 1, 8, 8)
    assert float(X_train.min()) == 0.0 and float(X_train.max()) == 1.0
    assert torch.bincount(y_test, minlength=10).min() >= 35        # every class held out
    other = vit.load_digits_split(seed=1)
    assert not torch.equal(other[3], y_test)


def test_predict_keeps_the_mode_and_batches():
    m = vit.ViT(8, 4, 16, 32, 2, 1, blk_dropout=0.5).train()
    X = torch.rand(7, 1, 8, 8)
    a = vit.predict(m, X, batch_size=3)
    assert m.training and a.shape == (7,)
    m.eval()
    assert torch.equal(a, m(X).argmax(-1))


@pytest.mark.parametrize("make, err", [
    (lambda: vit.PatchEmbedding(8, 3), ValueError),              # 3 does not divide 8
    (lambda: vit.PatchEmbedding(8, 0), ValueError),
    (lambda: vit.PatchEmbedding(8, 2.0), TypeError),
    (lambda: vit.PatchEmbedding("8", 2), TypeError),
    (lambda: vit.PatchEmbedding((8, 8, 8), 2), ValueError),
    (lambda: vit.ViT(8, 4, 30, 64, 4, 1), ValueError),           # 30 not divisible by 4 heads
    (lambda: vit.ViT(8, 4, 32, 64, 4, 0), ValueError),
    (lambda: vit.ViT(8, 4, 32, 64, 4, 1, num_classes=1), ValueError),
    (lambda: vit.ViT(8, 4, 32, 64, 4, 1, emb_dropout=1.0), ValueError),
    (lambda: vit.load_digits_split(test_size=1.0), ValueError),
    (lambda: vit.load_digits_split(test_size="0.2"), TypeError),
    (lambda: vit.load_digits_split(seed=-1), ValueError),
])
def test_bad_construction_is_refused(make, err):
    with pytest.raises(err):
        make()


def test_bad_inputs_are_refused():
    m = vit.ViT(8, 4, 16, 32, 2, 1)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        m(torch.rand(2, 1, 8, 12))
    with pytest.raises(ValueError, match="shape"):
        m(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError):
        m(torch.rand(1, 8, 8))
    with pytest.raises(TypeError, match="floating"):
        m(torch.ones(2, 1, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError):
        m([[0.0] * 8] * 8)
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        vit.vit_step(m, (torch.rand(2, 1, 8, 8), torch.tensor([3, 10])))
    with pytest.raises(ValueError, match="batch size"):
        vit.vit_step(m, (torch.rand(2, 1, 8, 8), torch.tensor([3])))
    with pytest.raises(TypeError, match="integer"):
        vit.vit_step(m, (torch.rand(2, 1, 8, 8), torch.tensor([1.0, 2.0])))
    with pytest.raises(ValueError, match="pair"):
        vit.vit_step(m, torch.rand(2, 1, 8, 8))
    with pytest.raises(TypeError, match="ViT"):
        vit.predict(torch.nn.Linear(2, 2), torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="empty"):
        vit.accuracy(m, torch.rand(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="divide"):
        vit.patches(torch.rand(1, 1, 8, 8), 3)
