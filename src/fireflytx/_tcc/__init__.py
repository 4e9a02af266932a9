"""What is particular to TCC transactions: their decorators, specs, inputs, context, run, results and engine.

Everything here stands on the shared kernel in ``_core`` (attempts, runs, listeners) and on the
modules beside this package that both kinds use; nothing here imports ``_saga``.
"""
