"""Sizing: capacity (6a, memory) and performance (6b, time) of one replica.

:mod:`deployment` describes one configuration, :mod:`capacity` sizes its memory,
:mod:`performance` its speed, :mod:`estimate` puts both together with provenance and
error bands, and :mod:`search` walks the catalog for the configurations that work.
"""
