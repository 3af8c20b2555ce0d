"""dbslower, dbstat and mysqld_qslower against a real PostgreSQL server (15, 17)
(a throw-away cluster on a unix socket in a temp dir) and, for MySQL's probes
and dispatch_command(), the C test target (Debian's mariadb has no USDT)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from tests import distro, usdt_prog
from tests.helpers import Tool, json_objects, run_json, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()

PGBIN = distro.PGBIN


class Postgres:
    """A PostgreSQL cluster run as the postgres user, listening only on a
    unix socket in its own directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="corebpf-pg-", dir="/var/tmp")
        shutil.chown(self.dir, "postgres")
        self.port = 5400 + os.getpid() % 500
        self._pg("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres",
                 "--no-sync", "-N")
        self._pg("pg_ctl", "-D", f"{self.dir}/data", "-w", "-l", f"{self.dir}/log", "-o",
                 f"-k {self.dir} -p {self.port} -c listen_addresses=''", "start")

    def _pg(self, tool, *args):
        r = subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/{tool}", *args],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{tool} failed: {r.stderr}"

    def session(self):
        """A psql process reading statements from its stdin."""
        return PsqlSession(self)

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D",
                        f"{self.dir}/data", "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class PsqlSession:
    def __init__(self, pg):
        self.p = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", "psql", "-h", pg.dir, "-p", str(pg.port),
             "-X", "-A", "-t", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.backend = int(self.query("select pg_backend_pid();"))

    def query(self, sql: str) -> str:
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)


@pytest.fixture(scope="module")
def pg():
    server = Postgres()
    yield server
    server.stop()


def test_dbslower_postgres_slow_query(pg):
    s = pg.session()
    try:
        tag = uuid.uuid4().hex[:8]
        t = Tool("dbslower", "postgres", "-p", s.backend, "-m", "100")
        assert t.lines[0] == f"Tracing database queries for pids {s.backend} slower than 100 ms..."
        s.query(f"select 'fast-{tag}';")
        s.query(f"select pg_sleep(0.2), 'slow-{tag}';")
        line = t.wait_for(lambda l: f"slow-{tag}" in l)
        assert t.stop() == 0
    finally:
        s.close()
    assert t.lines[1].split() == ["TIME(s)", "PID", "MS", "QUERY"]
    m = re.match(r"^(\d+\.\d{6}) +(\d+) +(\d+\.\d{3}) (.*)$", line)
    assert m, line
    assert int(m.group(2)) == s.backend and float(m.group(3)) >= 200
    assert m.group(4) == f"select pg_sleep(0.2), 'slow-{tag}';"
    assert not any(f"fast-{tag}" in l for l in t.lines)


def test_dbslower_sees_connections_opened_after_it_started(pg):
    """The probes are on the binary for every process (a backend forked for a
    new connection has its semaphores set by the kernel); the kernel keeps
    the queries of the given PIDs and their children: -p POSTMASTER shows a
    connection made after the tool started, -p BACKEND only that backend."""
    with open(f"{pg.dir}/data/postmaster.pid") as f:
        postmaster = int(f.readline())
    tag = uuid.uuid4().hex[:8]
    old = pg.session()
    try:
        t = Tool("dbslower", "postgres", "-p", postmaster, "-m", "100")
        only = Tool("dbslower", "postgres", "-p", old.backend, "-m", "100")
        new = pg.session()                      # connected after both started
        try:
            new.query(f"select pg_sleep(0.2), 'new-{tag}';")
            old.query(f"select pg_sleep(0.2), 'old-{tag}';")
            line = t.wait_for(lambda l: f"new-{tag}" in l)
            assert t.wait_for(lambda l: f"old-{tag}" in l), t.text
            assert only.wait_for(lambda l: f"old-{tag}" in l), only.text
            assert t.stop() == 0 and only.stop() == 0
        finally:
            new.close()
    finally:
        old.close()
    assert line is not None and int(line.split()[1]) == new.backend, t.text
    # the new backend is postmaster's child, not old's: filtered out in the kernel
    assert not any(f"new-{tag}" in l for l in only.lines), only.text


def test_dbstat_postgres_histogram(pg):
    s = pg.session()
    try:
        t = Tool("dbstat", "postgres", "-p", s.backend)
        assert t.lines[0] == f"Tracing database queries for pids {s.backend} slower than 0 ms..."
        for _ in range(5):
            s.query("select pg_sleep(0.005);")
        time.sleep(0.3)
        assert t.stop() == 0
    finally:
        s.close()
    assert re.match(r"^\[\d\d:\d\d:\d\d\]$", t.lines[1])
    assert t.lines[2] == "     query latency (ms)  : count     distribution"
    rows = [re.match(r"^ +(\d+) -> (\d+) +: (\d+) ", l) for l in t.lines[3:]]
    counts = {int(m.group(1)): int(m.group(3)) for m in rows if m}
    assert sum(counts.values()) == 5, t.text
    assert all(low >= 4 for low, n in counts.items() if n), t.text


def test_db_tools_containers(pg):
    """--containers on the host's server: dbslower's CONTAINER column and
    dbstat's `container = NAME` heading name the backend's cgroup (the root
    cgroup: "" and "/"); dbstat's histograms are then keyed by cgroup id (a
    hash map the option resizes).  A container's id: tests/kernel/test_containers.py."""
    from tests.kernel.test_containers import host_cgroup
    s = pg.session()
    tag = uuid.uuid4().hex[:8]
    try:
        t = Tool("dbslower", "--containers", "postgres", "-p", s.backend, "-m", "0")
        h = Tool("dbstat", "--containers", "postgres", "-p", s.backend)
        s.query(f"select pg_sleep(0.005), '{tag}';")
        line = t.wait_for(lambda l: tag in l)
        time.sleep(0.3)
        assert t.stop() == 0 and h.stop() == 0
        name = host_cgroup(s.backend)
    finally:
        s.close()
    assert t.lines[1].split()[:3] == ["CONTAINER", "TIME(s)", "PID"], t.text
    want = [name] if name else []
    assert line is not None and line.split()[:len(want)] == want, t.text
    float(line.split()[len(want)])            # then TIME(s): nothing else before it
    assert f"container = {name or '/'}" in h.lines, h.text


def test_dbstat_interval_in_microseconds(pg):
    s = pg.session()
    try:
        t = Tool("dbstat", "postgres", "-p", s.backend, "-u", "-i", "1")
        s.query("select pg_sleep(0.01);")
        assert t.wait_for(lambda l: l.startswith("     query latency (us)"), timeout=10)
        # two more summaries after the one with the query: they start empty
        n = len([l for l in t.lines if l.startswith("[")])
        t.wait_for(lambda l: len([x for x in t.lines if x.startswith("[")]) >= n + 2, timeout=10)
        assert t.stop() == 0
    finally:
        s.close()
    reports, cur = [], None
    for line in t.lines[1:]:
        if re.match(r"^\[\d\d:\d\d:\d\d\]$", line):
            cur = []
            reports.append(cur)
        elif cur is not None and " -> " in line:
            cur.append(line.split())
    hit = next(i for i, r in enumerate(reports) if any(row[4] != "0" for row in r))
    rows = [row for row in reports[hit] if row[4] != "0"]
    assert len(rows) == 1 and int(rows[0][0]) >= 8192 and rows[0][4] == "1", t.text
    assert reports[hit + 1:] and all(r == [] for r in reports[hit + 1:]), t.text


def test_mysqld_qslower_usdt_target():
    marker = "q" + uuid.uuid4().hex[:8]
    p = usdt_prog.start("mysql", marker, 20)
    try:
        t = Tool("mysqld_qslower", p.pid, "5")
        assert t.lines[0] == f"Tracing MySQL server queries for PID {p.pid} slower than 5 ms..."
        line = t.wait_for(lambda l: marker in l)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert t.lines[1].split() == ["TIME(s)", "PID", "MS", "QUERY"]
    fields = line.split(None, 3)
    assert int(fields[1]) == p.pid and float(fields[2]) >= 20
    assert fields[3] == f"SELECT '{marker}', SLEEP(20)"
    assert float(t.lines[2].split()[0]) == 0.0          # time is relative to the first query


def test_mysqld_qslower_containers():
    """--containers on bcc's bare command line: the CONTAINER column, the
    host process's cgroup in it (test_containers.py: a container's id)."""
    from tests.kernel.test_containers import host_cgroup
    marker = "q" + uuid.uuid4().hex[:8]
    p = usdt_prog.start("mysql", marker, 1)
    try:
        t = Tool("mysqld_qslower", "--containers", p.pid, "0")
        line = t.wait_for(lambda l: marker in l)
        name = host_cgroup(p.pid)
        assert t.stop() == 0
    finally:
        p.kill()
        p.wait()
    assert t.lines[1].split()[:2] == ["CONTAINER", "TIME(s)"], t.text
    want = [name] if name else []
    assert line is not None and line.split()[:len(want)] == want, t.text
    assert int(line.split()[len(want) + 1]) == p.pid, line


def test_dbslower_mysql_usdt_and_uprobe_mode():
    marker = "x" + uuid.uuid4().hex[:8]
    p = usdt_prog.start("mysql", marker, 3)
    target = usdt_prog.usdt_target()
    try:
        t = Tool("dbslower", "mysql", "-x", target, "-m", "0")
        assert t.lines[0] == f"Tracing database queries for application {target} slower than 0 ms..."
        line = t.wait_for(lambda l: marker in l)
        t.stop()
        assert line and line.split(None, 3)[1] == str(p.pid), t.text
        t = Tool("dbslower", "mysql", "-p", p.pid, "-m", "1")
        assert t.wait_for(lambda l: l.endswith(f"SELECT '{marker}', SLEEP(3)"))
        t.stop()
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("args, msg", [
    (["postgres", "-x", "/bin/true"], "dbslower: error: Sorry at the moment PostgreSQL supports only USDT"),
    (["mysql", "-x", "/bin/true"], "dbslower: error: Can't find function 'dispatch_command' in /bin/true"),
    (["mysql", "-p", "4194004"], "dbslower: error: argument -p/--pid: no such process: 4194004"),
])
def test_dbslower_errors(args, msg):
    rc, out, err = run_tool("dbslower", *args)
    assert rc != 0 and out == "" and err.strip() == msg


def test_db_tools_on_process_without_probes():
    # `sleep` (coreutils) carries no USDT notes at all (the test's own python
    # may: Debian's python3 has the python provider's probes)
    p = subprocess.Popen(["sleep", "30"])
    try:
        rc, out, err = run_tool("dbstat", "mysql", "-p", p.pid)
        assert rc == 1 and err.strip() == \
            f"dbstat: error: process {p.pid} has no USDT probes in its executable or libraries"
        rc, out, err = run_tool("mysqld_qslower", p.pid)
        assert rc == 1 and "no USDT probes" in err and len(err.strip().splitlines()) == 1
    finally:
        p.kill()
        p.wait()


def test_db_tools_on_process_with_other_probes():
    """A process whose binaries have USDT probes, none of them query probes."""
    p = subprocess.Popen([distro.PYTHON, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        rc, out, err = run_tool("dbstat", "mysql", "-p", p.pid)
        assert rc == 1 and err.strip() == f"dbstat: error: process {p.pid}: no USDT probe query__start"
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("args", [[], ["-1"], ["123", "abc"]])
def test_mysqld_qslower_usage(args):
    rc, out, err = run_tool("mysqld_qslower", *args)
    assert rc == 2 and err.strip() == "mysqld_qslower: error: USAGE: mysqld_qslower PID [min_ms]"


def test_json_dbslower_postgres(pg):
    s = pg.session()
    tag = uuid.uuid4().hex[:8]
    try:
        def act():
            s.query(f"select 'fast-{tag}';")
            s.query(f"select pg_sleep(0.2), 'slow-{tag}';")
        d, objs = run_json("dbslower", ["postgres", "-p", s.backend, "-m", "100"], act,
                           lambda d: f"slow-{tag}" in d["query"])
    finally:
        s.close()
    assert d["query"] == f"select pg_sleep(0.2), 'slow-{tag}';"
    assert d["pid"] == d["tid"] == s.backend and d["latency_ns"] >= 200_000_000
    assert 0 < d["start_ns"] < time.monotonic_ns()
    assert not any(f"fast-{tag}" in o.get("query", "") for o in objs)


def test_json_dbstat_postgres(pg):
    s = pg.session()
    try:
        t = Tool("dbstat", "--json", "postgres", "-p", s.backend, ready="stderr")
        for _ in range(5):
            s.query("select pg_sleep(0.005);")
        time.sleep(0.3)
        assert t.stop() == 0
    finally:
        s.close()
    assert t.stderr.startswith(f"Tracing database queries for pids {s.backend} slower than 0 ms")
    (o,) = json_objects(t, "dbstat")                # one summary at exit
    assert o["unit"] == "ms" and len(o["histograms"]) == 1
    counts = {b["low"]: b["count"] for b in o["histograms"][0]["buckets"] if b["count"]}
    assert sum(counts.values()) == 5 and min(counts) >= 4, o


def test_json_mysqld_qslower():
    marker = "q" + uuid.uuid4().hex[:8]
    p = usdt_prog.start("mysql", marker, 20)
    try:
        d, _ = run_json("mysqld_qslower", [p.pid, "5"], lambda: None,
                        lambda d: marker in d["query"])
    finally:
        p.kill()
        p.wait()
    assert d["query"] == f"SELECT '{marker}', SLEEP(20)"
    assert d["pid"] == d["tid"] == p.pid and d["latency_ns"] >= 20_000_000
