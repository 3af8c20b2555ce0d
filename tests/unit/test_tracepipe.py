"""trace_pipe lines parsed as bcc's trace_fields() parses them."""
from corebpf.core.tracepipe import TraceFields, parse_trace_line


def test_event_lines():
    assert parse_trace_line("            bash-19920   [001] ...21 10895.562515: "
                            "bpf_trace_printk: Hello, World!") == \
        TraceFields("bash", 19920, 1, "...21", 10895.562515, "Hello, World!")
    # a task name with a dash and a space, a message with colons, the tgid column
    f = parse_trace_line("       my-prog x-1234    (   1200) [003] d.h1.    12.000001: "
                         "bpf_trace_printk: a: b: c")
    assert (f.task, f.pid, f.cpu, f.flags, f.msg) == ("my-prog x", 1234, 3, "d.h1.", "a: b: c")
    assert parse_trace_line("          <idle>-0       [000] d.s3.     1.5: bpf_trace_printk: ") \
        .msg == ""


def test_other_lines_are_not_events():
    assert parse_trace_line("CPU:1 [LOST 3 EVENTS]") is None
    assert parse_trace_line("") is None
    assert parse_trace_line("garbage without fields") is None
