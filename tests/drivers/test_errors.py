"""The one table of error codes (drivers/errors.py) and docs/protocol.md agree."""
import re
from pathlib import Path

from drivers.errors import ERROR_CODES

PROTOCOL_DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def test_the_error_table_of_the_doc_is_the_code_table():
    section = PROTOCOL_DOC.read_text("utf-8").split("## Error queue", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (-?\d+) \| ([^|]+?) \|", section, re.M)
    assert {int(code): name for code, name in rows} == {k: v for k, v in ERROR_CODES.items() if k != 0}
