"""Generated images kept on disk for a while, for `response_format: "url"` replies.

Names are random and unguessable; files are readable by their owner only and removed once
older than the time to live.
"""

import os
import re
import secrets
import time
from pathlib import Path

CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "webp": "image/webp",
}
_NAME = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(png|jpeg|jpg|webp)$")


class ImageCache:
    def __init__(self, directory: Path, ttl_seconds: float) -> None:
        self._directory = directory
        self._ttl = ttl_seconds

    def put(self, data: bytes, ext: str) -> str:
        """Store an image; returns its file name (`<id>.<ext>`)."""
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prune()
        name = f"{secrets.token_urlsafe(24)}.{ext if ext in CONTENT_TYPES else 'png'}"
        path = self._directory / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return name

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The image and its content type, or None when unknown, malformed or expired."""
        if not _NAME.match(name):
            return None
        path = self._directory / name
        try:
            if time.time() - path.stat().st_mtime > self._ttl:
                path.unlink(missing_ok=True)
                return None
            return path.read_bytes(), CONTENT_TYPES[name.rsplit(".", 1)[1]]
        except FileNotFoundError:
            return None

    def prune(self) -> None:
        cutoff = time.time() - self._ttl
        for path in self._directory.glob("*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
