"""Reading a candle file for `import_candles`: a private copy, read in chunks (never whole)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK_BYTES = 1 << 16


@contextmanager
def private_copy(path: Path) -> Iterator[Path]:
    """A copy of `path` in a temporary directory only this process uses, removed afterwards: the
    check pass and the write pass read the same bytes even if the file changes meanwhile (a download
    still running, an editor saving). OSError when the file cannot be read or copied."""
    with tempfile.TemporaryDirectory(prefix="import_candles-") as directory:
        copy = Path(directory) / "candles.csv"
        with path.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)
        yield copy


def file_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes in chunks of `size`."""
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk
