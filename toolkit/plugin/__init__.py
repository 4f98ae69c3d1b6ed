"""The plugin system: hooks a plugin implements, the kinds of part it registers, the registries
that hold them, and the manager that loads plugins (entry points, recipe modules) and blames a
plugin for its own failures.

`hookspecs` (every hook) and `kinds` (every kind, defined once) come first; `registry` holds
named factories; `callbacks` is the loop-behaviour kind's base class and state; `manager` builds
the `Plugins` a command uses; `trust` decides which module files a command may import.
"""
