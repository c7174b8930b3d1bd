"""Sizing: capacity (6a, memory) and performance (6b, time) of one replica, then the fleet.

:mod:`deployment` describes one configuration, :mod:`capacity` sizes its memory,
:mod:`efficiency` holds the roofline's calibrated factors and bands, :mod:`roofline` its
phase times, :mod:`steady_state` continuous batching timed by any performance model,
:mod:`estimate` puts capacity and performance together with provenance and error bands,
:mod:`fleet` turns the plan's demand into replicas, and :mod:`search` and
:mod:`plan_sizing` walk the catalog for the configurations that work. The layers are in
``docs/architecture.md``.
"""
