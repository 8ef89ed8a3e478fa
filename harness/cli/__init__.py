"""The command line: ``stvlm`` (``main``) and its verbs (``commands/``), the shared flags of the
study scripts (``entry``), terminal tables and the OpenMP spin set before torch loads."""
