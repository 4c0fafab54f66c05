"""The Python package and the front end are released together: one version number."""

from __future__ import annotations

import json
from pathlib import Path

import taskscope

PACKAGE_JSON = Path(__file__).resolve().parents[2] / "js" / "package.json"


def test_python_version_equals_js_package_version() -> None:
    # Deliberately no skip when the file is missing: a checkout without the front end is broken.
    assert PACKAGE_JSON.is_file(), f"{PACKAGE_JSON} is missing; the front end cannot be built"
    js_version = json.loads(PACKAGE_JSON.read_text(encoding="utf-8")).get("version")
    assert taskscope.__version__ == js_version, (
        f"taskscope.__version__ is {taskscope.__version__!r} (kernel_ext/__init__.py) but "
        f"js/package.json says {js_version!r}; bump both together"
    )
