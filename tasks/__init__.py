"""seqsuite's built-in task plugins (import package ``seqsuite_tasks``).

Each task is registered in ``pyproject.toml`` under the entry-point group
``seqsuite.tasks``, exactly as a third-party plugin registers itself; the core never
imports this package by name.
"""
