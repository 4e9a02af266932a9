"""``python -m fireflytx``: the same command line as the ``fireflytx`` script."""

from .cli import main

main()
