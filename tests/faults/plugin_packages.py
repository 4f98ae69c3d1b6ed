"""Broken third-party plugin packages, installed for real with pip into a private folder.

Each `Package` is a distribution (``tk-fails-import 1.0`` …) with one ``tk`` entry point, built
and installed the way a user's ``pip install`` does (``--target`` a temporary folder that the
tests put on PYTHONPATH, so the shared environment is untouched). `LOAD_TIME` packages break
while tk loads plugins (so `tk plugins` must mark them and list the rest); `RUN_TIME` ones
load cleanly and misbehave only when a run uses them.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Package:
    """A plugin distribution: ``dist`` (pip name), ``entry`` (entry-point name = plugin name),
    ``body`` (its module's source), and the words tk's message about it must contain."""

    dist: str
    entry: str
    what: str
    body: str
    says: str = ""

    @property
    def module(self) -> str:
        return self.dist.replace("-", "_")


HEADER = "from toolkit import hookimpl\n\n"

LOAD_TIME = [
    Package("tk-fails-import", "fails_import", "fails to import",
            'raise ImportError("tk-fails-import needs libfoo, which is not installed")\n', "failed to import"),
    Package("tk-raises-in-hook", "raises_in_hook", "raises in its registration hook",
            HEADER + "@hookimpl\ndef tk_register_losses(register):\n    raise RuntimeError('registry exploded')\n",
            "registry exploded"),
    Package("tk-registers-twice", "aaa_registers_twice", "registers a name tk already has (cross_entropy)",
            HEADER + "def ce(num_classes):\n    return lambda logits, targets: 0\n\n"
            "@hookimpl\ndef tk_register_losses(register):\n    register('cross_entropy', ce)\n",
            "registered twice"),
    Package("tk-misspelt-hook", "misspelt_hook", "implements a hook that does not exist (tk_register_loss)",
            HEADER + "@hookimpl\ndef tk_register_loss(register):\n    pass\n", "does not exist"),
    Package("tk-bad-signature", "bad_signature", "implements a hook with the wrong arguments",
            HEADER + "@hookimpl\ndef tk_register_losses(reg):\n    pass\n", "invalid hook"),
    Package("tk-returns-dict", "returns_dict", "returns its factories instead of calling register",
            HEADER + "def f(num_classes):\n    return None\n\n"
            "@hookimpl\ndef tk_register_losses(register):\n    return {'dict_loss': f}\n", "returned dict"),
    Package("tk-not-callable", "not_callable", "registers a factory that is not callable",
            HEADER + "@hookimpl\ndef tk_register_losses(register):\n    register('forty_two', 42)\n", "not callable"),
]

HEALTHY = Package("tk-healthy", "healthy", "a working third-party plugin",
                  HEADER + "def healthy_ce(num_classes):\n    import torch.nn.functional as F\n\n"
                  "    return lambda logits, targets: F.cross_entropy(logits, targets)\n\n"
                  "@hookimpl\ndef tk_register_losses(register):\n    register('healthy_ce', healthy_ce)\n")

RUN_TIME = [
    Package("tk-wrong-type", "wrong_type", "a backbone factory that returns a string",
            HEADER + "def string_backbone(num_classes, **options):\n    return 'resnet18'\n\n"
            "@hookimpl\ndef tk_register_backbones(register):\n    register('string_backbone', string_backbone)\n",
            "returned str"),
    Package("tk-event-raises", "event_raises", "raises in tk_epoch_end during a run",
            HEADER + "@hookimpl\ndef tk_epoch_end(run, epoch, metrics):\n"
            "    raise RuntimeError('logger lost its connection')\n",
            "failed in tk_epoch_end"),
]


def install(packages: list[Package], workdir: Path, version: str = "1.0") -> Path:
    """Build each package (as ``version``) from source and pip-install them all into ``workdir/site``;
    return that folder."""
    sources = []
    for pkg in packages:
        src = workdir / "src" / pkg.dist
        (src / pkg.module).mkdir(parents=True)
        (src / pkg.module / "__init__.py").write_text(f'"""{pkg.what}"""\n' + pkg.body)
        (src / "pyproject.toml").write_text(f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{pkg.dist}"
version = "{version}"

[project.entry-points.tk]
{pkg.entry} = "{pkg.module}"

[tool.setuptools]
packages = ["{pkg.module}"]
""")
        sources.append(str(src))
    site = workdir / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), *sources], check=True, capture_output=True)
    return site
