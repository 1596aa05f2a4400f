"""Registry access for a machine that has a network namespace of its own (tests/fresh_machine/check.sh).

The clean Debian root runs in a namespace whose only interface is its own loopback, so that its services
bind 127.0.0.1 without meeting the host's. It still has to reach the package registries, as a fresh
machine does. Two halves, joined by a Unix socket (a file, visible from both namespaces):

* `serve --unix PATH` runs on the host: an HTTP proxy (CONNECT for https, absolute-form GET for plain
  http) that opens connections only to the package registries this machine's own clients are set up to
  use (`registry_addresses()`: apt's sources, pip's index and npm's registry; no host is written here)
  and logs every one of them;
* `relay --port N --unix PATH` runs inside the namespace (`ip netns exec`): it listens on 127.0.0.1:N and
  passes each connection on to the proxy's socket. The machine then sets http_proxy/https_proxy to it.

Standard library only: it runs on the host's python3 before anything is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

HEADER_LIMIT = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


def _address(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]


def apt_source_urls() -> list[str]:
    """The archive URLs of this machine's apt sources (one-line and deb822 formats)."""
    urls: list[str] = []
    for path in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*.list")]:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
                if len(words) >= 2 and words[0] in ("deb", "deb-src"):
                    urls.append(words[1])
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with contextlib.suppress(OSError):
            urls += re.findall(r"^URIs:\s*(.+)$", Path(path).read_text(encoding="utf-8"), flags=re.M)
    return [u for line in urls for u in line.split()]


def pip_index_urls() -> list[str]:
    """pip's index (its configuration, else its own default) and where that index serves files from."""
    from pip._internal.models.index import PyPI  # the host's pip: its built-in default index

    urls = [PyPI.url, f"https://{PyPI.file_storage_domain}/"]
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        if re.match(r"^[^=]*\.(extra-)?index-url=", line):
            urls += line.split("=", 1)[1].strip("'\"").split()
    return urls


def npm_registry_urls() -> list[str]:
    try:
        answer = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [answer.stdout.strip()] if answer.returncode == 0 else []


def registry_addresses() -> set[tuple[str, int]]:
    """What a fresh machine downloads from: the registries this machine's apt, pip and npm use."""
    urls = apt_source_urls() + pip_index_urls() + npm_registry_urls()
    return {address for address in map(_address, urls) if address is not None}


ALLOWED: set[tuple[str, int]] = set()


def log(message: str) -> None:
    print(f"[registry-proxy {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            sink.close()


def requested_address(head: bytes) -> tuple[str, str, int]:
    """(method, host, port) of a proxy request's first line."""
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        return method, host.strip("[]"), int(port)
    url = urlsplit(target)
    return method, url.hostname or "", url.port or 80


async def proxy(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        head = await client_reader.readuntil(b"\r\n\r\n")
        method, host, port = requested_address(head[:HEADER_LIMIT])
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
        client_writer.close()
        return
    if (host, port) not in ALLOWED:
        log(f"REFUSED {method} {host}:{port} (not a package registry)")
        client_writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        client_writer.close()
        return
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
    except OSError as error:
        log(f"FAILED {method} {host}:{port}: {error}")
        client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        client_writer.close()
        return
    log(f"{method} {host}:{port}")
    if method == "CONNECT":
        client_writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:
        upstream_writer.write(head)  # origin servers accept the absolute-form target (RFC 9112, 3.2.2)
    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


async def relay_to(unix_path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        proxy_reader, proxy_writer = await asyncio.open_unix_connection(unix_path)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, proxy_writer), pipe(proxy_reader, writer))


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", choices=["serve", "relay", "mirror"])
    parser.add_argument("--unix")
    parser.add_argument("--port", type=int, default=3128)
    args = parser.parse_args(argv)
    if args.mode == "mirror":  # the Debian archive debootstrap should use: this machine's own
        print(next(u for u in apt_source_urls() if urlsplit(u).path.rstrip("/").endswith("/debian")))
        return
    if args.mode == "serve":
        ALLOWED.update(registry_addresses())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.unix)
        server = await asyncio.start_unix_server(proxy, args.unix, limit=HEADER_LIMIT)
        log(f"serving on {args.unix}; allowed: {sorted(ALLOWED)}")
    else:
        server = await asyncio.start_server(
            lambda r, w: relay_to(args.unix, r, w), "127.0.0.1", args.port, limit=HEADER_LIMIT
        )
        log(f"relaying 127.0.0.1:{args.port} to {args.unix}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
