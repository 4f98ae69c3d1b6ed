"""tk's version, defined once: the distribution's (pyproject.toml reads it), `toolkit.__version__`,
`tk --version`, and the ``tk`` field of export manifests and bench files.

Its own module so that tk's modules read it without importing the `toolkit` facade, which is
the plugins' door (the ``facade`` import contract in pyproject.toml).
"""

__version__ = "0.3.0.dev0"
