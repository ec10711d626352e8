"""Package discovery for the two import packages: ``seqsuite`` (the core) and
``seqsuite_tasks`` (the built-in tasks, kept in the ``tasks/`` folder). Everything else
about the distribution is in pyproject.toml; this file exists because pyproject's
``packages.find`` cannot map a folder to another import name."""

from setuptools import find_packages, setup

TASKS = find_packages("tasks")  # every subpackage, never a hand-written list

setup(
    packages=find_packages(include=["seqsuite", "seqsuite.*"])
    + ["seqsuite_tasks"]
    + [f"seqsuite_tasks.{name}" for name in TASKS],
    package_dir={"seqsuite_tasks": "tasks"},
)
