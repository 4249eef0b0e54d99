"""CLI subcommands; each module has `register(subparsers)` which sets `run` on its parser."""
