"""The boundary to the JVM: internal, no stability promise.

This package is the only place that imports ``jpype``. ``_java`` finds a Java runtime,
``_classpath`` resolves and verifies the engine's jars, ``_jvm`` starts the one JVM of the process,
``_threads`` and ``_logs`` give it Python-owned worker threads and a log sink, ``_errors`` maps Java
exceptions, ``_facade`` reaches the Java class that builds every engine object, ``_protocol`` types
what engines use of a bridge, and ``_saga`` and ``_tcc`` translate specs and run them on the engine.
"""
