"""planner: size, check and cost LLM inference deployments, offline.

The core is pure Python; the command line (:mod:`planner.cli`) and the GUI are thin
layers over its functions. Plugins contribute GPUs, models, runtimes and serving
stacks through the hooks in :mod:`planner.hookspecs`.
"""

__version__ = "0.1.0"

from planner.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
