"""One module per ``finetui`` subcommand.

Each exposes ``add_parser(subparsers)``, which registers the subcommand and
sets ``func=run``, and ``run(args) -> int``, the exit code.
"""
