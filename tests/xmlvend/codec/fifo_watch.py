"""A FIFO that tells whether anyone opened it for reading (shared by the codec and server
tests of issue 10 §2: a DOCTYPE naming a FIFO must never make the parser open it).

A reader opening a FIFO blocks until a writer comes. A watcher thread keeps trying a
non-blocking open for writing, which only succeeds while a reader has the FIFO open (or is
blocked opening it); it then records the fact, writes a byte and closes, so that a reader
blocked by a bug is freed and the test fails instead of hanging. When nothing opens the
FIFO (the fixed code) the watcher never succeeds and the outcome does not depend on timing.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from types import TracebackType


class FifoWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fifo-watch", daemon=True)
        self._thread.start()

    @property
    def opened(self) -> bool:
        return self._opened.is_set()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading
                    raise
                self._stop.wait(0.002)  # poll interval of the watcher only, never a test wait
                continue
            self._opened.set()
            try:
                os.write(fd, b"<!ENTITY leaked 'x'>")
            except BrokenPipeError:
                pass  # the reader gave up already
            finally:
                os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> FifoWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
