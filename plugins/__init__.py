"""Built-in plugins. Each module is an ordinary plugin registered under the
``planner`` entry point group, exactly as a vendor's package would register its own.
"""
