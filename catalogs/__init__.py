"""Data files of the built-in plugins: GPUs, models, runtimes, serving stacks.

Every number in these files cites a public source (see each entry's ``source`` and
``field_sources``); a figure that is an estimate is listed in the entry's
``estimates``. The files ship in the wheel as ``planner.catalogs``.
"""
