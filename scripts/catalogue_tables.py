#!/usr/bin/env python3
"""Write the catalogue's tables into the README and docs/scenarios.md, between their markers.

The tables are built from statemachine/catalogue.py (`command_table`, `deadline_table`); run this after
adding or changing a command or a deadline kind: `.venv/bin/python scripts/catalogue_tables.py`.
tests/test_catalogue.py fails while a document's table differs from the catalogue's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statemachine.catalogue import command_table, deadline_table  # noqa: E402

#: Which table goes between which markers, in which documents.
TABLES = {"commands": command_table, "deadlines": deadline_table}
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "scenarios.md")


def marked(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- catalogue:{name} -->\n)(.*?)(<!-- /catalogue:{name} -->)", re.DOTALL)


def synced(text: str) -> str:
    for name, table in TABLES.items():
        text = marked(name).sub(lambda m, t=table: m.group(1) + t() + "\n" + m.group(3), text)  # type: ignore[misc]
    return text


def main() -> int:
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        new = synced(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
