import sys

import pytest

from d2lt.compat import d2l


def test_d2l_imports_and_is_the_book_module():
    mod = d2l()
    assert mod.__name__ == "d2l.torch"
    assert callable(mod.bleu) and callable(mod.masked_softmax)
    assert d2l() is mod  # cached


def test_torchvision_stand_in_fails_clearly():
    d2l()
    tv = sys.modules.get("torchvision")
    if tv is None or not getattr(tv, "__d2lt_stand_in__", False):
        pytest.skip("a working torchvision is installed")
    with pytest.raises(ImportError, match="torchvision is not usable"):
        tv.transforms.ToTensor
