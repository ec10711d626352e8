"""A plugin written for another version of the task contract."""

from seqsuite import Task


class OldTask(Task):
    api_version = 0
    name = "oldapi"
    summary = "built for task API version 0"
