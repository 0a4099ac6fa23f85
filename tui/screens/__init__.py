"""One module per screen: data (pick a file), preview (what it parses into), and the dialogs.

Later screens (train, runs, playground) slot in here as modules of their own.
"""
