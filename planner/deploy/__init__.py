"""Step 9 as files: the runtime and platform configuration that realises a sized plan.

:mod:`~planner.deploy.values` turns the plan's chosen deployment into settings, each traced
to the plan; :mod:`~planner.deploy.runtime_args` writes them under the engine's own flag
names for the engine version; :mod:`~planner.deploy.manifests` wraps them in the platform's
manifests; :mod:`~planner.deploy.observability` adds the SLO alerts and the dashboard;
:mod:`~planner.deploy.check` reads a configuration back and compares it with the plan;
:mod:`~planner.deploy.tuning` orders the one-lever-at-a-time experiments.
"""
