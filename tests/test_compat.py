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


def test_a_broken_torchvision_falls_back_to_the_stand_in(tmp_path):
    """A torchvision that fails to load (a CUDA build next to a CPU torch) must not stop d2l."""
    import os
    import subprocess
    from pathlib import Path

    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    root = Path(__file__).resolve().parent.parent
    code = (
        "from d2lt.compat import d2l\n"
        "mod = d2l()\n"
        "import sys\n"
        "tv = sys.modules['torchvision']\n"
        "assert getattr(tv, '__d2lt_stand_in__', False), tv\n"
        "assert mod.bleu('a b', 'a b', 2) == 1.0\n"
        "try:\n"
        "    tv.transforms.ToTensor\n"
        "except ImportError as e:\n"
        "    assert 'torchvision is not usable' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('the stand-in gave an attribute')\n"
        "print('fell back')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(root)]), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(root),
                         timeout=300)
    assert out.returncode == 0 and "fell back" in out.stdout, out.stderr[-2000:]


def test_missing_d2l_says_how_to_install_it(monkeypatch):
    import importlib

    from d2lt import compat

    monkeypatch.delitem(sys.modules, "d2l.torch", raising=False)
    real = importlib.import_module

    def no_d2l(name, *args, **kwargs):
        if name == "d2l.torch":
            raise ModuleNotFoundError("No module named 'd2l'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_d2l)
    with pytest.raises(ImportError, match=r"pip install --no-deps d2l==1\.0\.3"):
        compat.d2l()


def test_stand_in_module_answers_dunder_lookups_normally():
    from d2lt import compat

    mod = compat._Unavailable("torchvision.fake")
    with pytest.raises(AttributeError):
        mod.__wrapped__  # what inspect and pickle probe must stay an AttributeError
    with pytest.raises(ImportError, match="torchvision.fake.thing"):
        mod.thing
