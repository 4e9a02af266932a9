"""The transaction core beneath SAGA and TCC: one attempt kernel, one run base, listeners.

Internal, no stability promise. SAGA and TCC runs (``_saga._run``, ``_tcc._run``) are thin variants
over this package: they say which attempts to start and how to read their records into results.
"""
