"""gzip for the large JSON answers (a day of heatmap columns is ~1.5 MB of numbers, ~4x smaller gzipped).

Only where it pays: ``gzip_when_large`` wraps one view, compresses a 200 answer of at least
``min_bytes`` for a client that accepts gzip, and keeps conditional GETs working: the ETag is the
content tag of the uncompressed document (as ConditionalGetMiddleware makes it), marked weak on the
compressed representation (as Django's GZipMiddleware does), and a request whose If-None-Match
already matches is not compressed at all (the middleware answers it 304). The output is
deterministic (no timestamp), the documents hold no secret (nothing for BREACH to find), and every
answer of the view varies on Accept-Encoding.
"""

from __future__ import annotations

import functools
import gzip
import re
import struct
import zlib
from collections.abc import Callable, Sequence

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers, set_response_etag
from django.utils.http import parse_etags

_ACCEPTS_GZIP = re.compile(r"\bgzip\b")
View = Callable[[HttpRequest], HttpResponse]
LEVEL = 1
# a piece is a few kB: a 4 kB window and less memory compress it as well, at a quarter of the set-up
_PIECE_WBITS, _PIECE_MEMLEVEL = 12, 4
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no time, OS unknown


def deflate_piece(data: bytes, level: int = LEVEL) -> bytes:
    """``data`` as raw deflate blocks ending on a byte boundary (a full flush, not the last block):
    pieces compressed apart can be joined into one stream (``gzip_from_pieces``), so a document
    made of cached parts is compressed once per part, not once per answer."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -_PIECE_WBITS, _PIECE_MEMLEVEL)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


_LAST_BLOCK = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def gzip_from_pieces(pieces: Sequence[bytes], body: bytes) -> bytes:
    """One gzip member whose data is ``body``, from ``deflate_piece``s of its consecutive parts."""
    trailer = struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF)
    return b"".join((_GZIP_HEADER, *pieces, _LAST_BLOCK, trailer))


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(_ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))


def _already_matching(request: HttpRequest, etag: str) -> bool:
    wanted = parse_etags(request.headers.get("If-None-Match", ""))
    bare = etag.removeprefix("W/")
    return "*" in wanted or any(tag.removeprefix("W/") == bare for tag in wanted)


def gzip_when_large(min_bytes: int = 4096, level: int = LEVEL) -> Callable[[View], View]:
    """Compress the view's large answers (see the module docstring). Level 1: ~2x smaller JSON of
    numbers; higher levels cost several times the time for a few % more. A response that carries
    ``gzip_pieces`` (its parts already deflated) is joined from them instead of compressed."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest) -> HttpResponse:
            response = view(request)
            patch_vary_headers(response, ("Accept-Encoding",))
            if (
                response.status_code != 200
                or response.streaming
                or response.has_header("Content-Encoding")
                or len(response.content) < min_bytes
                or not _accepts_gzip(request)
            ):
                return response
            if not response.has_header("ETag"):
                set_response_etag(response)
            etag = response["ETag"]
            if _already_matching(request, etag):
                return response  # ConditionalGetMiddleware turns it into a 304: nothing to compress
            pieces = getattr(response, "gzip_pieces", None)
            if pieces is not None:
                response.content = gzip_from_pieces(pieces, response.content)
            else:
                response.content = gzip.compress(response.content, compresslevel=level, mtime=0)
            response["Content-Length"] = str(len(response.content))
            response["Content-Encoding"] = "gzip"
            if not etag.startswith("W/"):
                response["ETag"] = f"W/{etag}"
            return response

        return wrapped

    return decorate
