"""Every package and data file of the checkout is in the wheel, and the sdist holds the
sources the wheel was built from. Usage: wheel_contents.py ROOT WHEEL SDIST"""

import sys
import tarfile
import zipfile
from pathlib import Path

root, wheel, sdist = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
FOLDERS = {"seqsuite": "seqsuite", "tasks": "seqsuite_tasks"}  # checkout folder -> import name
SKIP = {".pyc"}

expected = set()
for folder, name in FOLDERS.items():
    for path in (root / folder).rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in SKIP:
            expected.add(f"{name}/{path.relative_to(root / folder).as_posix()}")
in_wheel = set(zipfile.ZipFile(wheel).namelist())
missing = sorted(expected - in_wheel)
assert not missing, f"files of the checkout missing from the wheel: {missing[:20]}"
with tarfile.open(sdist) as tar:
    in_sdist = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
sources = {
    f"{folder}/{p.split('/', 1)[1]}"
    for p in expected
    for folder, name in FOLDERS.items()
    if p.startswith(name + "/")
}
lacking = sorted(s for s in sources if s not in in_sdist)
assert not lacking, f"files of the checkout missing from the sdist: {lacking[:20]}"
print(f"check-dist: the wheel holds all {len(expected)} package files; the sdist their sources")
