"""The `crossgrant` command: one module per command group."""
