"""The ``finetui`` subcommands, grouped by what they act on.

Each module exposes ``add_parser(subparsers)``, which registers its
subcommands, each with ``func`` set to the function that runs it and returns
the exit code.
"""
