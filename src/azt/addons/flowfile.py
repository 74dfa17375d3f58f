"""`--save-flows FILE`: write a redacted copy of every flow to a mitmproxy flow file.

The file opens `mitmweb -r FILE`, `mitmproxy -r FILE` and `mitmproxy.io.FlowReader`. A flow is
written when it finishes (its response or error), and flows still open at shutdown are written
as they are then. Writes happen on one background thread, in order, each flushed at once, so
the event loop never waits on the disk and a crash loses nothing already written.
"""

import logging
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from mitmproxy import http, io

from azt.addons.redaction import Redactor

logger = logging.getLogger("azt.flowfile")

APPEND_PREFIX = "+"  # as mitmproxy's save_stream_file: "+FILE" appends instead of truncating


class FlowFileError(RuntimeError):
    """The flow file could not be opened."""


def parse_spec(spec: str) -> tuple[Path, bool]:
    """`FILE` or `+FILE` as (path, append)."""
    append = spec.startswith(APPEND_PREFIX)
    path = spec.removeprefix(APPEND_PREFIX) if append else spec
    return Path(path).expanduser(), append


def open_private(path: Path, append: bool) -> BinaryIO:
    """Open for writing as mode 0600: flows name hosts, paths and, on request, bodies."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), 0o600)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)  # a file that already existed keeps its mode otherwise
    return os.fdopen(fd, "ab" if append else "wb")


class FlowFile:
    """Records a redacted copy of each flow once it finishes; `open()` before the first."""

    def __init__(self, spec: str, redactor: Redactor) -> None:
        self.path, self._append = parse_spec(spec)
        self._redactor = redactor
        self._file: BinaryIO | None = None
        self._writer: io.FlowWriter | None = None
        self._worker: Executor | None = None
        self._open_flows: dict[str, http.HTTPFlow] = {}
        self._broken = False

    def open(self) -> None:
        """Open the file once, before any flow arrives."""
        try:
            self._file = open_private(self.path, self._append)
        except OSError as e:
            raise FlowFileError(f"cannot write flows to {self.path}: {e.strerror or e}") from e
        self._writer = io.FlowWriter(self._file)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="azt-flowfile")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self._worker is not None:
            self._open_flows[flow.id] = flow

    def response(self, flow: http.HTTPFlow) -> None:
        # A WebSocket flow is written once, when the connection ends.
        if flow.websocket is None:
            self._save(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.response(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._save(flow)

    def done(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        for flow in self._open_flows.values():
            self._submit(worker, flow)
        self._open_flows.clear()
        worker.shutdown(wait=True)
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None

    def _save(self, flow: http.HTTPFlow) -> None:
        self._open_flows.pop(flow.id, None)
        if self._worker is not None:
            self._submit(self._worker, flow)

    def _submit(self, worker: Executor, flow: http.HTTPFlow) -> None:
        try:
            copy = self._redactor.copy(flow)
        except Exception:
            # Recording is a debugging aid: it must never break the flow itself.
            logger.warning("could not record a flow in %s", self.path, exc_info=True)
            return
        worker.submit(self._write, copy)

    def _write(self, copy: http.HTTPFlow) -> None:
        if self._broken or self._writer is None or self._file is None:
            return
        try:
            self._writer.add(copy)
            self._file.flush()
        except OSError as e:  # a full or vanished disk: stop, but keep serving
            self._broken = True
            logger.error("stopped writing flows to %s: %s", self.path, e)
        except Exception:  # this flow only: a flow is serialised whole before it is written
            logger.warning("could not record a flow in %s", self.path, exc_info=True)
