"""Errors a corpus editor can act on: every one names the file, the line and the reason."""

from __future__ import annotations

from pathlib import Path


class CorpusError(ValueError):
    """A malformed corpus file.

    Usage:
    ```python
    raise CorpusError("corpus/offices.yaml", 12, "office 'office/x' has no name")
    ```
    """

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")
