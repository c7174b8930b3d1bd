"""Rule packs for the rules engine, one module per concern (see docs/rules.md)."""
