"""A planner plugin for one hardware vendor (the template to copy).

It contributes, through the hooks of ``planner/hookspecs.py``:

- the vendor's GPU (``gpus.yaml``, every number with its source);
- a performance model, ``vendor-roofline``: the planner's roofline with the vendor's own
  efficiency factors (``efficiency.yaml``), answering for the vendor's GPUs only;
- a rule pack (:mod:`planner_vendor_template.rules`) with the vendor's advice.

Only light imports at module level: every ``planner`` command imports this module.
"""

from __future__ import annotations

from typing import Any

from planner import hookimpl

#: The planner hook API this plugin was written for (``planner plugins`` flags a mismatch).
PLANNER_HOOK_API = "1"

#: The package whose data files (``gpus.yaml``, ``efficiency.yaml``) this plugin reads.
PACKAGE = __name__


@hookimpl
def planner_gpus() -> list[dict[str, Any]]:
    """Return the vendor's GPUs from ``gpus.yaml``."""
    from planner.catalogfiles import load_entries

    return load_entries("gpus.yaml", PACKAGE)


@hookimpl
def planner_performance_models() -> list[Any]:
    """Return the vendor's roofline (``--perf-backend vendor-roofline``)."""
    from planner_vendor_template.performance import VendorRoofline

    return [VendorRoofline()]


@hookimpl
def planner_rule_packs() -> list[Any]:
    """Return the vendor's rule pack."""
    from planner_vendor_template.rules import PACK

    return [PACK]
