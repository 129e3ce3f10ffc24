"""environment.yml (conda) and pyproject.toml describe the same environment, and this one satisfies it."""
import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {Requirement(r).name.lower(): Requirement(r) for r in pip if not r.startswith("-")}, env


def test_environment_yml_matches_pyproject():
    proj = _pyproject()
    wanted = [Requirement(r) for r in proj["dependencies"]]
    for extra in proj["optional-dependencies"].values():
        wanted += [Requirement(r) for r in extra]
    conda, env = _conda_pip()
    for req in wanted:
        assert req.name.lower() in conda, f"environment.yml lacks {req.name}"
        if req.name.lower() != "torch":
            assert str(conda[req.name.lower()].specifier) == str(req.specifier), \
                f"{req.name}: pyproject says {req.specifier}, environment.yml says {conda[req.name.lower()].specifier}"
    extra = set(conda) - {r.name.lower() for r in wanted}
    assert not extra, f"environment.yml has packages pyproject.toml does not: {extra}"
    assert "-e ." in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_torch_pin_agrees_with_the_makefile():
    conda, _ = _conda_pip()
    pin = re.search(r"^TORCH_SPEC \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert str(Requirement(pin)) == str(conda["torch"]), f"Makefile pins {pin}, environment.yml {conda['torch']}"
    torch_range = next(Requirement(r) for r in _pyproject()["dependencies"] if r.startswith("torch"))
    assert torch_range.specifier.contains(pin.split("==")[1]), f"{pin} is outside pyproject's {torch_range}"
    assert metadata.version("torch").split("+")[0] in Requirement(pin).specifier


def test_running_environment_satisfies_pyproject():
    proj = _pyproject()
    reqs = [Requirement(r) for r in proj["dependencies"]]
    for extra in proj["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    for req in reqs:
        version = metadata.version(req.name)
        assert req.specifier.contains(version.split("+")[0], prereleases=True), \
            f"{req.name} {version} does not satisfy {req.specifier}"
    assert metadata.version("d2l") == "1.0.3"
