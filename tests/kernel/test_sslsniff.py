"""sslsniff: the plaintext of real TLS connections on 127.0.0.1 with a
self-signed certificate made here: OpenSSL on both sides (openssl s_server
and s_client: SSL_read/SSL_write), Python's ssl module (SSL_read_ex/
SSL_write_ex), a GnuTLS client (gnutls-cli: gnutls_record_send/recv)."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests import distro
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PYTHON = distro.PYTHON          # Debian 12: python3.11, 13: python3.13
BASE = re.compile(r"^(READ/RECV|WRITE/SEND|HANDSHAKE) +(\d+\.\d{9}) +(.{16}) (\d+) +(\d+) *(.*)$")

# a TLS server and client in one Python process: after a line on stdin the
# client sends argv[3], the server answers with it upper-cased
PY_TLS = r"""
import socket, ssl, sys, threading
cert, key, msg = sys.argv[1], sys.argv[2], sys.argv[3].encode()
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(1)
def serve():
    conn, _ = lsock.accept()
    with sctx.wrap_socket(conn, server_side=True) as s:
        data = s.recv(4096)
        s.sendall(data.upper())
t = threading.Thread(target=serve)
t.start()
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
with cctx.wrap_socket(socket.create_connection(lsock.getsockname())) as c:
    c.sendall(msg)
    reply = c.recv(4096)
t.join()
sys.stdout.write("got " + reply.decode() + "\n"); sys.stdout.flush()
sys.stdin.readline()
"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    assert shutil.which("openssl"), "openssl (Debian package openssl) is needed"
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "1", "-subj",
                    "/CN=localhost"], check=True, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")


def marker() -> str:
    return "corebpf-tls-" + uuid.uuid4().hex[:10]


def events(lines):
    """[(func, comm, pid, len, extra columns, data text or None)]."""
    out = []
    i = 0
    while i < len(lines):
        m = BASE.match(lines[i])
        i += 1
        if not m:
            continue
        data = None
        if i < len(lines) and lines[i] == "----- DATA -----":
            j = lines.index(next(l for l in lines[i:] if l.startswith("----- END DATA")), i)
            data = "\n".join(lines[i + 1:j])
            end = lines[j]
            i = j + 1
            data = (data, end)
        out.append((m.group(1), m.group(3).rstrip(), int(m.group(4)), int(m.group(5)),
                    m.group(6).split(), data))
    return out


class PyTLS:
    def __init__(self, cert, msg):
        self.p = subprocess.Popen([PYTHON, "-c", PY_TLS, cert[0], cert[1], msg],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline() == "ready\n"
        self.pid = self.p.pid

    def exchange(self) -> str:
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        return self.p.stdout.readline()

    def close(self):
        self.p.kill()
        self.p.wait()


def test_python_ssl_module_read_ex_write_ex(cert):
    msg = marker()
    py = PyTLS(cert, msg)
    try:
        t = Tool("sslsniff", "-p", py.pid, "-x")
        assert t.lines[0] == "%-12s %-18s %-16s %-7s %-7s %-7s %-7s" % (
            "FUNC", "TIME(s)", "COMM", "PID", "LEN", "UID", "TID")
        assert py.exchange() == f"got {msg.upper()}\n"
        assert t.wait_for(lambda l: msg.upper() in l, 10), t.text
        time.sleep(0.3)
        assert t.stop() == 0
    finally:
        py.close()
    evs = events(t.lines)
    writes = [e for e in evs if e[0] == "WRITE/SEND" and e[5]]
    reads = [e for e in evs if e[0] == "READ/RECV" and e[5]]
    assert any(e[5][0] == msg and e[3] == len(msg) for e in writes), t.text
    assert any(e[5][0] == msg for e in reads), t.text                  # the server's read
    assert any(e[5][0] == msg.upper() for e in reads), t.text          # the client's read
    for e in evs:
        assert e[2] == py.pid and e[5][1] == "----- END DATA -----"
        uid, tid = map(int, e[4])
        assert uid == 0 and tid > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _s_server(cert, port):
    """openssl s_server on 127.0.0.1:port, once it accepts connections.
    Its stdin is held open (not /dev/null): s_server ends a session at EOF."""
    p = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                          cert[0], "-key", cert[1]],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise AssertionError(f"openssl s_server does not listen on 127.0.0.1:{port}")


def test_openssl_s_server_and_s_client_latency_handshake(cert):
    msg = marker()
    port = _free_port()
    t = Tool("sslsniff", "-c", "openssl", "-l", "--handshake")
    assert t.lines[0].endswith(" LAT(ms)")
    srv = _s_server(cert, port)
    try:
        cli = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                "-quiet"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        cli.stdin.write((msg + "\n").encode())
        cli.stdin.flush()
        got = t.wait_for(lambda l: l == msg, 30)
        time.sleep(0.5)
        cli.kill()
        cli.wait()
        assert t.stop() == 0
    finally:
        srv.kill()
        srv.wait()
    assert got, t.text + t.stderr
    evs = events(t.lines)
    assert {e[1] for e in evs} == {"openssl"}
    assert any(e[0] == "WRITE/SEND" and e[2] == cli.pid and e[5] and e[5][0].rstrip("\n") == msg
               for e in evs), t.text
    assert any(e[0] == "READ/RECV" and e[2] == srv.pid and e[5] and e[5][0].rstrip("\n") == msg
               for e in evs), t.text
    hs = [e for e in evs if e[0] == "HANDSHAKE"]
    assert hs and all(e[3] == 0 and e[5] is None for e in hs), t.text
    for e in evs:
        assert re.match(r"^\d+\.\d{3}$", e[4][0]), e              # LAT(ms)


def test_gnutls_client(cert):
    gnutls = shutil.which("gnutls-cli")
    assert gnutls, "gnutls-cli (Debian package gnutls-bin) is needed"
    msg = marker()
    port = _free_port()
    srv = _s_server(cert, port)
    try:
        t = Tool("sslsniff", "-c", "gnutls-cli", "--no-openssl")
        cli = subprocess.Popen([gnutls, "--insecure", "-p", str(port), "127.0.0.1"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(1.0)             # handshake done before the data
        cli.stdin.write((msg + "\n").encode())
        cli.stdin.flush()
        got = t.wait_for(lambda l: l == msg, 30)
        cli.kill()
        cli.wait()
        assert t.stop() == 0
    finally:
        srv.kill()
        srv.wait()
    assert got, t.text + t.stderr
    evs = events(t.lines)
    assert any(e[0] == "WRITE/SEND" and e[1] == "gnutls-cli" and e[2] == cli.pid and
               e[3] == len(msg) + 1 and e[5][0].rstrip("\n") == msg for e in evs), t.text


def test_hexdump_truncation_and_library_switches(cert):
    msg = marker()
    py = PyTLS(cert, msg)
    try:
        t = Tool("sslsniff", "-p", py.pid, "--hexdump", "--max-buffer-size", "8")
        off = Tool("sslsniff", "-p", py.pid, "--no-openssl")   # Python uses OpenSSL only
        py.exchange()
        assert t.wait_for(lambda l: "TRUNCATED" in l, 10), t.text
        time.sleep(0.3)
        assert t.stop() == 0 and off.stop() == 0
    finally:
        py.close()
    # the client's write and the server's upper-case reply have the same
    # length; either may be recorded first (events are sent on return)
    evs = [e for e in events(t.lines) if e[0] == "WRITE/SEND" and e[3] == len(msg)]
    assert msg[:8].encode().hex() in [e[5][0] for e in evs], t.text
    for e in evs:
        assert e[5][1] == f"----- END DATA (TRUNCATED, {len(msg) - 8} bytes lost) -----"
    assert events(off.lines) == [], off.text


def test_hexdump_wraps_at_32_columns(cert):
    msg = marker() + "-" + "x" * 40
    py = PyTLS(cert, msg)
    try:
        t = Tool("sslsniff", "-p", py.pid, "--hexdump")
        py.exchange()
        assert t.wait_for(lambda l: "END DATA" in l, 10)
        time.sleep(0.3)
        assert t.stop() == 0
    finally:
        py.close()
    dumps = [e[5][0].split("\n") for e in events(t.lines) if e[0] == "WRITE/SEND"]
    assert all(len(r) == 32 for rows in dumps for r in rows[:-1]), t.text
    assert msg.encode().hex() in ["".join(rows) for rows in dumps], t.text   # either order


def test_bad_input():
    rc, out, err = run_tool("sslsniff", "--extra-lib", "cobol:/bin/true")
    assert rc == 2 and "Invalid SSL library type: 'cobol'" in err and err.count("\n") == 1
    rc, out, err = run_tool("sslsniff", "--extra-lib", "openssl:/nonexistent/libssl.so")
    assert rc == 2 and "/nonexistent/libssl.so" in err
    rc, out, err = run_tool("sslsniff", "--max-buffer-size", "70000")
    assert rc == 2 and "at most 65536" in err
    rc, out, err = run_tool("sslsniff", "--extra-lib", "gnutls:/bin/true", "-o", "-g", "-n")
    assert rc == 1 and "gnutls_record_send" in err and err.count("\n") == 1


def test_json(cert):
    msg = marker()
    py = PyTLS(cert, msg)
    try:
        t = Tool("sslsniff", "--json", "-l", "-p", py.pid, ready="stderr")
        assert py.exchange() == f"got {msg.upper()}\n"
        assert t.wait_for(json_match(lambda d: d["data"] == msg.upper()), 10), (t.text, t.stderr)
        assert t.stop() == 0
    finally:
        py.close()
    objs = json_objects(t, "sslsniff")
    w = next(d for d in objs if d["func"] == "WRITE/SEND" and d["data"] == msg)
    assert (w["pid"], w["uid"], w["len"], w["truncated_bytes"]) == (py.pid, 0, len(msg), 0)
    assert w["tid"] > 0 and w["latency_ns"] > 0 and w["timestamp_ns"] > 0
    assert any(d["func"] == "READ/RECV" and d["data"] == msg for d in objs)
