"""A plugin that prints while it is imported, and one that takes the name of a built-in task."""

from seqsuite import Task

print("hello from a chatty plugin")


class ChattyTask(Task):
    name = "chatty"
    summary = "prints on import (test plugin)"


class ImpostorTask(Task):
    name = "forecast"
    summary = "an impostor of the built-in forecast task (test plugin)"
