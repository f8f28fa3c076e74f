"""Standard output and error as rnncli writes them: UTF-8 whatever the locale, every byte
written even when the descriptor is non-blocking, for streams of lines a Ctrl-C that takes
effect at the end of a line, and tables never drawn narrower than they can be read.

A parent process (Node, an event loop) may set O_NONBLOCK on a pipe it shares with rnncli;
Python's own streams then lose output or fail with EAGAIN. The file description is shared,
so the flag is not ours to clear: a write that would block waits until the descriptor is
writable instead, and a short write is continued.
"""

from __future__ import annotations

import io
import os
import select
import signal

PIECE = 1 << 16  # bytes per write: about a pipe's buffer, so that Ctrl-C waits for at most this much


class FullWriter(io.RawIOBase):
    """A file descriptor written in full: ``write`` returns only when every byte is out."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd
        self.broken = False  # a write found no reader (EPIPE): whoever catches that, it is said here

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += self._write_some(view[done:done + PIECE])
        return done

    def _write_some(self, piece: memoryview) -> int:
        # The fast path is one plain write; waiting is only for a write that would block.
        while True:
            try:
                return os.write(self.fd, piece)
            except BlockingIOError:
                _wait_writable(self.fd)
            except BrokenPipeError:
                self.broken = True
                raise

    def write_lines(self, data: bytes) -> None:
        """All of ``data``, lines of text: a Ctrl-C (SIGINT) while they are written stops the
        writing at the end of the line under way, then raises KeyboardInterrupt, so that a
        reader never sees half a line."""
        import threading  # here: start-up does not pay for it

        stopped: list[int] = []
        previous = None
        if threading.current_thread() is threading.main_thread():  # handlers are the main thread's
            previous = signal.signal(signal.SIGINT, lambda number, _frame: stopped.append(number))
        try:
            view, done = memoryview(data), 0
            while done < len(data):
                if stopped:
                    if done == 0 or data[done - 1] == 0x0A:  # at a line's start: stop here
                        break
                    end = data.find(b"\n", done) + 1 or len(data)
                else:
                    end = min(len(data), done + PIECE)
                done += self._write_some(view[done:end])
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if stopped:
            raise KeyboardInterrupt


def _wait_writable(fd: int) -> None:
    if hasattr(select, "poll"):  # no limit on the descriptor's number, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        poller.poll()
    else:
        select.select([], [fd], [])


class Lines:
    """What ``stream.tag_stream`` writes to: its text, whole lines, straight to ``raw``."""

    def __init__(self, raw: FullWriter):
        self.raw = raw

    def write(self, text: str) -> None:
        self.raw.write_lines(text.encode("utf-8"))

    def flush(self) -> None:
        pass  # nothing is held back


def utf8_stream(fd: int, errors: str = "strict", interactive: bool = False) -> io.TextIOWrapper:
    """A text stream on ``fd`` that writes UTF-8 through a ``FullWriter``: line by line on a
    terminal, else in blocks. With ``interactive`` (messages) each write goes straight out, with
    no buffer that could keep a failed write for Python to try again, and fail, at exit."""
    raw = FullWriter(fd)
    if interactive:
        return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, line_buffering=True, write_through=True)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors=errors, line_buffering=raw.isatty())


MIN_WIDTH = 60  # columns: narrower (COLUMNS=0 or 20), Rich's tables lose their words or draw nothing


def widened(console):
    """A Rich console at least ``MIN_WIDTH`` wide: on a narrower terminal the lines wrap, and
    every word stays."""
    if console.width < MIN_WIDTH:
        console.width = MIN_WIDTH
    return console


def raw_of(stream) -> FullWriter | None:
    """The ``FullWriter`` beneath a stream made by ``utf8_stream``, else None."""
    buffer = getattr(stream, "buffer", None)
    raw = getattr(buffer, "raw", buffer)
    return raw if isinstance(raw, FullWriter) else None
