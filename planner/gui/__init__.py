"""The desktop app (PySide6): the only package of the planner that imports Qt.

Views are thin: they show what the workflow layer (:mod:`planner.workflows`) returns, through
the Qt-free view-models of :mod:`planner.gui.viewmodels`, :mod:`planner.gui.document` and
:mod:`planner.gui.steps`. Start it with ``planner-gui [PLAN]`` or ``planner gui [PLAN]``.
"""
