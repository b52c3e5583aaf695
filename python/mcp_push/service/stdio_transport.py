"""MCP over stdio, answering every request line: our reader in front of the SDK's serving loop.

The SDK's own stdio transport drops a line it cannot parse without a word (a number of more than 4,300
digits, nesting deeper than its parser allows, a JSON-RPC message of the wrong shape) and, when stdin
closes, cancels the requests still being served. Here:

- a line that is not JSON gets a JSON-RPC `-32700 Parse error`; JSON that is not a JSON-RPC message
  gets `-32600 Invalid Request` (with the request's id when it has a usable one);
- lone surrogates in strings (not encodable as UTF-8) become U+FFFD, so the answer can be written;
- when stdin closes, every request already read is still answered (bounded by `drain_seconds`)
  before the server loop ends.

While serving, fd 0 reads /dev/null and fd 1 points at stderr (as the SDK does), so a stray print or a
child process cannot corrupt the wire; both are restored on exit.

When stdin and stdout are pipes (as an MCP host starts a server) on POSIX, the event loop reads and writes
them itself (asyncio pipe transports, non-blocking while serving): a call costs no hand-off to a reader
and a writer thread and back, each a wake-up that waits for the GIL and, on a busy machine, for a core.
Anything else (a file, a terminal, a socket, Windows) is read and written by a thread each, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

log = logging.getLogger("mcp_push.service.server")

PARSE_ERROR, INVALID_REQUEST, INTERNAL_ERROR = -32700, -32600, -32603


def _error(code: int, message: str, id_: Any = None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}).encode() + b"\n"


def _usable_id(value: Any) -> Any:
    """The request's id when JSON-RPC allows it (a string or an integer), else None (answered as null)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


# Python refuses to convert integers of more than 4,300 digits; such a number is no valid argument here,
# but the message around it is still a request that deserves its own answer (not a parse error).
_MAX_INT_DIGITS = 4300
_ID = re.compile(r'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?[0-9]{1,18})\s*[,}]')


def _parse_int(digits: str) -> int | float:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_INT_DIGITS else float(digits)


def _id_in(text: str) -> Any:
    """The id a line that is not valid JSON seems to carry, so the client can match the error to its
    request (JSON-RPC allows null when it cannot be told; a client would then wait out its timeout)."""
    match = _ID.search(text)
    if match is None:
        return None
    try:
        return _usable_id(json.loads(match.group(1)))
    except ValueError:
        return None


# The text was decoded with errors="replace": a lone surrogate can only come from a \uD800-\uDFFF
# escape, so a line without one (nearly every line) is not walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _clean(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def scrub_surrogates(value: Any) -> Any:
    """A copy of a parsed JSON value whose strings (keys too) have lone surrogates replaced by U+FFFD.
    Iterative: nesting depth is whatever the JSON parser accepted."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, str):
            parent[key] = _clean(item)
        elif isinstance(item, list):
            copy = list(item)
            parent[key] = copy
            stack.extend((copy, index) for index in range(len(copy)))
        elif isinstance(item, dict):
            copy = {_clean(k): v for k, v in item.items()}
            parent[key] = copy
            stack.extend((copy, k) for k in copy)
    return root[0]


def parse_line(line: bytes) -> tuple[SessionMessage | None, bytes | None]:
    """(message, None) for a JSON-RPC message; (None, error reply) for a line that is not one;
    (None, None) for a blank line."""
    text = line.decode("utf-8", "replace").strip()
    if not text:
        return None, None
    try:
        data = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        return None, _error(PARSE_ERROR, "Parse error: nested too deeply", _id_in(text))
    except ValueError as exc:  # not JSON
        return None, _error(PARSE_ERROR, f"Parse error: {str(exc)[:200]}", _id_in(text))
    request_id = _usable_id(data.get("id")) if isinstance(data, dict) else None
    if isinstance(data, dict) and "method" in data and "id" in data and request_id is None:
        # MCP ids are strings or integers; the SDK would take this for a notification and never answer.
        return None, _error(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    try:
        if _SURROGATE_ESCAPE.search(text):
            data = scrub_surrogates(data)
        message = types.jsonrpc_message_adapter.validate_python(data, by_name=False)
    except RecursionError:
        return None, _error(INVALID_REQUEST, "Invalid Request: nested too deeply", request_id)
    except Exception:  # pydantic's text names its own types and links its docs: not for the client
        return None, _error(INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message", request_id)
    return SessionMessage(message), None


@contextlib.contextmanager
def _claim_stdio() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """Private duplicates of fd 0 and fd 1 for the wire; fd 0 -> /dev/null and fd 1 -> stderr meanwhile."""
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    saved_in, saved_out = os.dup(0), os.dup(1)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    try:
        with os.fdopen(wire_in, "rb") as reader, os.fdopen(wire_out, "wb", buffering=0) as writer:
            yield reader, writer
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


class _Pending:
    """Ids of requests read and not answered yet."""

    def __init__(self) -> None:
        self.ids: set[Any] = set()
        self.empty = anyio.Event()
        self.empty.set()

    def add(self, request_id: Any) -> None:
        self.ids.add(request_id)
        if self.empty.is_set():
            self.empty = anyio.Event()

    def answered(self, request_id: Any) -> None:
        self.ids.discard(request_id)
        if not self.ids:
            self.empty.set()


class _ThreadWire:
    """The wire read and written by a thread each (any binary streams)."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO):
        self._reader, self._writer = reader, writer
        # The wire's own threads: tool calls filling the default thread pool never hold up reading or writing.
        self._read_thread, self._write_thread = anyio.CapacityLimiter(1), anyio.CapacityLimiter(1)

    async def open(self) -> None:
        pass

    async def readline(self) -> bytes:
        return await anyio.to_thread.run_sync(self._reader.readline, abandon_on_cancel=True,
                                              limiter=self._read_thread)

    async def write(self, data: bytes) -> None:
        await anyio.to_thread.run_sync(_write_all, self._writer, data, limiter=self._write_thread)

    async def aclose(self) -> None:
        pass


# How much of a line the loop's reader holds before handing a piece over (lines may be longer: pieces are
# joined); also how far it reads ahead of the server (twice this, then it pauses reading).
_READ_LIMIT = 256 * 1024


class _WriteState(asyncio.Protocol):
    """The write pipe's flow control: writers wait while the host is not reading (the pipe is full)."""

    def __init__(self) -> None:
        self.paused = False
        self.closed = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()

    def pause_writing(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume_writing(self) -> None:
        self.paused = False
        self._resumed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._resumed.set()

    async def drained(self) -> None:
        await self._resumed.wait()


class _LoopWire:
    """The wire read and written by the event loop (asyncio's pipe transports on private duplicates of
    the two pipes, non-blocking while serving). Only for pipes: on a socket the write transport takes
    incoming data for the peer closing, and a terminal's mode is shared with the shell."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO):
        self._fds = (reader.fileno(), writer.fileno())
        self._stream: asyncio.StreamReader | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._writer: asyncio.WriteTransport | None = None
        self._state = _WriteState()

    @staticmethod
    def fits(reader: BinaryIO, writer: BinaryIO) -> bool:
        if os.name != "posix":
            return False
        try:
            asyncio.get_running_loop()  # RuntimeError on another anyio backend (trio)
            return all(stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode) for stream in (reader, writer))
        except (AttributeError, OSError, ValueError, RuntimeError):  # no fileno (io.UnsupportedOperation too)
            return False

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._stream = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
        stream = self._stream
        read_pipe = os.fdopen(os.dup(self._fds[0]), "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop),
                                                    read_pipe)
        self._transports.append(transport)
        write_pipe = os.fdopen(os.dup(self._fds[1]), "wb", buffering=0)
        self._writer, _ = await loop.connect_write_pipe(lambda: self._state, write_pipe)
        self._transports.append(self._writer)

    async def readline(self) -> bytes:
        """The next line with its newline (without one at the end of input), b"" at the end: as a
        binary file's readline, however long the line."""
        assert self._stream is not None
        pieces = []
        while True:
            try:
                pieces.append(await self._stream.readuntil(b"\n"))
                break
            except asyncio.LimitOverrunError as exc:  # longer than the limit so far: take what is there
                pieces.append(await self._stream.readexactly(exc.consumed))
            except asyncio.IncompleteReadError as exc:  # the end of input
                pieces.append(exc.partial)
                break
        return b"".join(pieces)

    async def write(self, data: bytes) -> None:
        assert self._writer is not None
        if self._state.closed.is_set() or self._writer.is_closing():
            raise BrokenPipeError("stdout is closed")
        self._writer.write(data)
        if self._state.paused:
            await self._state.drained()
        if self._state.closed.is_set():
            raise BrokenPipeError("stdout is closed")

    async def aclose(self) -> None:
        """Closes the transports once what was written is out (bounded: a host that stopped reading),
        and puts the pipes back in blocking mode for whoever shares them."""
        for transport in self._transports:
            transport.close()
        if self._writer is not None:
            with anyio.move_on_after(5):
                await self._state.closed.wait()
            if not self._state.closed.is_set():
                self._writer.abort()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)


async def serve_stdio(lowlevel: Any, drain_seconds: float, reader: BinaryIO | None = None,
                      writer: BinaryIO | None = None) -> None:
    """Serves the SDK's low-level server (`MCPServer._lowlevel_server`) on stdin/stdout (or the given
    binary streams) until stdin closes and what was read before is answered."""
    if reader is None or writer is None:
        with _claim_stdio() as (wire_in, wire_out):
            await serve_stdio(lowlevel, drain_seconds, wire_in, wire_out)
        return

    wire: _ThreadWire | _LoopWire = _LoopWire(reader, writer) if _LoopWire.fits(reader, writer) \
        else _ThreadWire(reader, writer)
    try:
        await wire.open()
        await _serve(lowlevel, drain_seconds, wire)
    finally:
        await wire.aclose()


async def _serve(lowlevel: Any, drain_seconds: float, wire: _ThreadWire | _LoopWire) -> None:
    to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](0)
    pending = _Pending()
    write_lock = anyio.Lock()
    writer_done = anyio.Event()

    async def write(data: bytes) -> None:
        async with write_lock:
            await wire.write(data)

    async def read_stdin() -> None:
        async with to_server:
            while True:
                line = await wire.readline()
                if not line:
                    break
                message, error = parse_line(line)
                if error is not None:
                    await write(error)
                if message is None:
                    continue
                if isinstance(message.message, types.JSONRPCRequest):
                    pending.add(message.message.id)
                await to_server.send(message)
            # stdin closed: answer what was asked before ending the loop (the SDK would cancel it).
            with anyio.move_on_after(drain_seconds):
                await pending.empty.wait()
            if pending.ids:
                log.warning("stdin closed; %d request(s) still unanswered after %g s", len(pending.ids),
                            drain_seconds)

    async def write_stdout() -> None:
        try:
            await relay_replies()
        finally:
            writer_done.set()

    async def relay_replies() -> None:
        async with from_server:
            async for outgoing in from_server:
                message = outgoing.message
                answered = isinstance(message, (types.JSONRPCResponse, types.JSONRPCError))
                try:
                    data = message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                except Exception:  # never leave a request without an answer
                    log.exception("could not encode a reply")
                    data = _error(INTERNAL_ERROR, "Internal error: the reply could not be encoded",
                                  getattr(message, "id", None)) if answered else b""
                if data:
                    try:
                        await write(data)
                    except OSError:  # the host went away
                        log.info("stdout closed; stopping")
                        break
                if answered:
                    pending.answered(message.id)

    async with anyio.create_task_group() as group:
        group.start_soon(write_stdout)
        group.start_soon(read_stdin)
        await lowlevel.run(server_reads, server_writes, lowlevel.create_initialization_options())
        # The loop closed its side: let the last replies reach stdout, then stop reading.
        with anyio.move_on_after(10):
            await writer_done.wait()
        group.cancel_scope.cancel()


def _write_all(writer: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = writer.write(view)
        view = view[written or 0:]
    writer.flush()
