"""The layout holds (issue 10 item 6): no import cycle, and the pure packages stay pure."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_layout.py"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycle_and_pure_domain() -> None:
    assert _checker().problems() == []


def test_the_checker_sees_a_cycle_and_an_impure_import(tmp_path: Path) -> None:
    checker = _checker()
    assert checker.cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    module = tmp_path / "m.py"
    module.write_text("import sqlalchemy\nfrom pathlib import Path\n", encoding="utf-8")
    _, outer = checker.imports(module, {})
    assert {"sqlalchemy", "pathlib"} <= outer
