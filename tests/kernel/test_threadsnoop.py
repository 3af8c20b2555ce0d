"""threadsnoop on the real kernel: a C program creating threads that run
corebpf_worker() is listed with its PID, comm and start routine; a stripped
copy shows the start routine's address in hex (bcc's fallback)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests import usdt_prog
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

LINE = re.compile(r"(\d+) +(\d+) +(\S.{0,15}?) +(\S+)$")


def _line(t, pid):
    def match(line):
        m = LINE.fullmatch(line)
        return m and int(m.group(2)) == pid
    return t.wait_for(match, timeout=15)


def test_threads_with_start_routine(tmp_path):
    t = Tool("threadsnoop")
    assert t.lines[0] == "%-10s %-7s %-16s %s" % ("TIME(ms)", "PID", "COMM", "FUNC")
    prog = subprocess.Popen([usdt_prog.usdt_target(), "threads"])
    stripped = tmp_path / "usdt_target"
    shutil.copy(usdt_prog.usdt_target(), stripped)
    subprocess.run(["strip", str(stripped)], check=True)
    bare = subprocess.Popen([str(stripped), "threads"])
    try:
        line = _line(t, prog.pid)
        bare_line = _line(t, bare.pid)
    finally:
        for p in (prog, bare):
            p.kill()
            p.wait()
    assert t.stop() == 0, t.stderr
    assert line, t.text
    m = LINE.fullmatch(line)
    assert m.group(3) == "usdt_target" and m.group(4) == "corebpf_worker", line
    assert bare_line, t.text
    assert re.fullmatch(r"0x[0-9a-f]+", LINE.fullmatch(bare_line).group(4)), bare_line
    times = [int(LINE.fullmatch(l).group(1)) for l in t.lines[1:] if LINE.fullmatch(l)]
    assert times[0] == 0 and min(times) >= 0, times


def test_json(tmp_path):
    import json
    import sys

    import jsonschema
    t = Tool("threadsnoop", "--json", ready="stderr")
    prog = subprocess.Popen([usdt_prog.usdt_target(), "threads"])
    try:
        line = t.wait_for(lambda l: f'"pid":{prog.pid},' in l)
    finally:
        prog.kill()
        prog.wait()
    assert t.stop() == 0, t.stderr
    assert line, t.text
    schema = json.loads(subprocess.run([sys.executable, "-m", "corebpf", "schema", "threadsnoop"],
                                       capture_output=True, check=True).stdout)
    for l in t.lines:
        jsonschema.validate(json.loads(l), schema)
    d = json.loads(line)
    assert d["comm"] == "usdt_target" and d["func"] == "corebpf_worker", d
    assert re.fullmatch(r"0x[0-9a-f]+", d["start"])
