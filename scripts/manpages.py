#!/usr/bin/env python3
"""Write the man pages: one per tool (section 8), corebpf(8), corebpf-exporter(8).

    python3 scripts/manpages.py [-o DIR] [--suffix SUFFIX] [--date YYYY-MM-DD]

Each tool page is made from the argparse parser the tool itself builds
(tools/_cli.Parser hands it over instead of parsing while `capture` is on):
SYNOPSIS and OPTIONS list exactly what the tool accepts, DESCRIPTION and
EXAMPLES come from the tool's docstring (bcc's layout: the examples block is
what `-h` shows).  Pages are named NAME SUFFIX (default "-corebpf", the Debian
package's command names: execsnoop-corebpf(8)); examples use those names.
The date is SOURCE_DATE_EPOCH's (reproducible builds) unless --date is given.

Debian's argparse-manpage is not used: the version in Debian 12 (1.2.2)
writes section 1 pages only, needs a function that returns the parser, and
has no examples section.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ENVIRONMENT = (
    ("COREBPF_BTF", "the kernel BTF file to use instead of /sys/kernel/btf/vmlinux"),
    ("COREBPF_LIBBPF", "the libbpf shared library to load instead of libbpf.so.1"),
    ("COREBPF_PROBE", "force a probe kind (as --probe): tp_btf, raw_tp, tracepoint, "
                      "fentry or kprobe"),
    ("COREBPF_DEBUG", "1: show libbpf's log (as --verbose)"),
)


# -- roff ----------------------------------------------------------------------------

def esc(text: str) -> str:
    """Plain text for roff: backslashes shown, no control character at a line start."""
    text = text.replace("\\", "\\e")
    return "\n".join("\\&" + ln if ln.startswith((".", "'")) else ln
                     for ln in text.split("\n"))


def esc_cmd(text: str) -> str:
    """A command or option: every hyphen an ASCII minus (copy-pastable)."""
    return esc(text).replace("-", "\\-")


_OPT = re.compile(r"(?<![\w-])(--?)(?=[A-Za-z0-9])")


def esc_prose(text: str) -> str:
    """Prose: hyphens inside words stay hyphens, options (-x, --long) get minus signs."""
    return _OPT.sub(lambda m: "\\-" * len(m.group(1)), esc(text))


def bold(text: str) -> str:
    return f"\\fB{esc_cmd(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{esc_cmd(text)}\\fR"


# -- the docstring ----------------------------------------------------------------------

def _split_comment(line: str):
    """'cmd args   # comment' -> (cmd args, comment); a '#' inside quotes is not one."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and i and line[i - 1] == " " and line[i + 1:i + 2] in (" ", ""):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def parse_examples(block: str) -> list:
    """[(command, description)] from an `examples:` block: a command per line,
    its description after `#` or on the more indented lines below it."""
    lines = [ln for ln in block.split("\n")[1:] if ln.strip()]
    if not lines:
        return []
    base = min(len(ln) - len(ln.lstrip()) for ln in lines)
    out = []
    for ln in lines:
        indent = len(ln) - len(ln.lstrip())
        if indent > base and out:
            cmd, desc = out[-1]
            out[-1] = (cmd, (desc + " " + ln.strip()).strip())
        else:
            out.append(_split_comment(ln.strip()))
    return out


def split_doc(doc: str):
    """(description paragraphs, other paragraphs, examples, usage line) of a tool's docstring."""
    paras = [p.strip("\n") for p in re.split(r"\n\s*\n", (doc or "").strip())]
    desc, notes, examples, usage = [paras[0]] if paras else [], [], [], None
    for p in paras[1:]:
        head = p.lstrip().split("\n", 1)[0].strip()
        if head.lower() == "examples:":
            examples = parse_examples(p)
        elif head.lower().startswith("usage:"):
            usage = head.split(":", 1)[1].strip()
        else:
            notes.append(p)
    return desc, notes, examples, usage


def paragraph(text: str) -> list:
    """A docstring paragraph as roff: prose is refilled, indented lines (tables,
    grammars) are kept as they are."""
    lines = text.split("\n")
    if any(ln[:1].isspace() for ln in lines[1:]):
        return [".PP", ".nf"] + [esc_prose(ln) for ln in lines] + [".fi"]
    return [".PP", esc_prose(" ".join(ln.strip() for ln in lines))]


# -- a tool's parser --------------------------------------------------------------------

def tool_parser(name: str):
    """The argparse parser tool `name` builds, or None (a tool with bcc's bare usage line)."""
    import importlib

    from corebpf.tools import _cli
    mod = importlib.import_module(f"corebpf.tools.{name}")
    _cli.Parser.capture = True
    saved = sys.stdout, sys.stderr
    try:
        sys.stdout = sys.stderr = open(os.devnull, "w")
        mod.main([])
    except _cli.ParserCaptured as e:
        return e.parser
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout, sys.stderr = saved
        _cli.Parser.capture = False
    return None


def _visible(parser):
    return [a for a in parser._actions if a.help != argparse.SUPPRESS]


def _args_text(parser, action) -> str:
    fmt = parser._get_formatter()
    default = action.dest.upper() if action.option_strings else action.dest
    return fmt._format_args(action, default)


def synopsis(parser, command: str) -> list:
    parts = []
    for a in _visible(parser):
        if a.option_strings:
            opt = a.option_strings[0]
            parts.append(f"[{bold(opt)}]" if a.nargs == 0 else
                         f"[{bold(opt)} {italic(_args_text(parser, a))}]")
    for a in _visible(parser):
        if not a.option_strings:
            parts.append(italic(_args_text(parser, a)))
    return [f".B {esc_cmd(command)}", " ".join(parts)]


def options(parser) -> list:
    out = []
    fmt = parser._get_formatter()
    acts = _visible(parser)
    for a in [a for a in acts if not a.option_strings] + [a for a in acts if a.option_strings]:
        if a.option_strings:
            arg = "" if a.nargs == 0 else " " + italic(_args_text(parser, a))
            head = ", ".join(bold(o) + arg for o in a.option_strings)
        else:
            head = italic(_args_text(parser, a))
        out += [".TP", head, esc_prose(fmt._expand_help(a) if a.help else "")]
    return out


# -- pages --------------------------------------------------------------------------------

def _header(title: str, date: str, version: str) -> list:
    # no hyphenation, ragged right: commands and paths stay intact
    return [f'.TH "{esc_cmd(title.upper())}" 8 "{date}" "corebpf {version}" '
            '"System Manager\'s Manual"', ".nh", ".ad l"]


def _rename(cmd: str, name: str, command: str) -> str:
    """An example's command with the tool's installed name."""
    if cmd == name or cmd.startswith(name + " "):
        return command + cmd[len(name):]
    return cmd


def tool_page(name: str, suffix: str, date: str, version: str) -> str:
    import importlib

    from corebpf import tools
    mod = importlib.import_module(f"corebpf.tools.{name}")
    command = name + suffix
    parser = tool_parser(name)
    desc, notes, examples, usage = split_doc(mod.__doc__)
    out = _header(command, date, version)
    out += [".SH NAME", f"{esc_cmd(command)} \\- {esc_prose(tools.summary(name))}"]
    out += [".SH SYNOPSIS"]
    if parser is not None:
        out += synopsis(parser, command)
    else:
        words = (usage or name).split()
        out += [f".B {esc_cmd(command)}", " ".join(
            italic(w) if not w.startswith("[") else f"[{italic(w.strip('[]'))}]"
            for w in words[1:])]
    out += [".SH DESCRIPTION"]
    for p in desc + notes:
        out += paragraph(p)
    if suffix:
        out += [".PP", f"This is corebpf's {bold(name)}: bcc's tool of that name, with "
                "its options and output, on libbpf and CO\\-RE (no compiler or kernel "
                f"headers needed).  It is also installed as {bold('/usr/lib/corebpf/bin/' + name)} "
                "(put that directory first on PATH to use bcc's names) and runs as "
                f"{bold('corebpf ' + name)}."]
    out += [".PP", "Ctrl\\-C or SIGTERM stops it (summary tools print their summary "
            "first); everything it attached is detached on exit."]
    if parser is not None:
        out += [".SH OPTIONS"] + options(parser)
    out += [".SH EXAMPLES"]
    for cmd, what in examples:
        out += [".TP", bold(_rename(cmd, name, command)), esc_prose(what or "")]
    out += [".SH EXIT STATUS",
            "0 when stopped by Ctrl\\-C, SIGTERM or its duration/count; 1 when the kernel "
            "or libbpf refuses (one line on stderr names what is missing); 2 for bad "
            "options."]
    out += [".SH ENVIRONMENT"]
    for var, what in ENVIRONMENT:
        out += [".TP", bold(var), esc_prose(what)]
    out += [".SH SEE ALSO", f"{bold('corebpf')}(8), {bold(name + '-bpfcc')}(8), "
            f"{bold('bpftrace')}(8)"]
    return "\n".join(out) + "\n"


def corebpf_page(suffix: str, date: str, version: str) -> str:
    from corebpf import doctor, tools
    out = _header("corebpf", date, version)
    out += [".SH NAME",
            "corebpf \\- bcc's tracing tools on libbpf and CO\\-RE: list them, run them, "
            "check what this host can trace"]
    dp = doctor.parser()
    out += [".SH SYNOPSIS",
            ".B corebpf list", ".br",
            ".B corebpf doctor", " ".join(synopsis(dp, "x")[1:]), ".br",
            ".B corebpf features", ".br",
            ".B corebpf", f"{italic('TOOL')} [{italic('ARGS')} ...]"]
    out += [".SH DESCRIPTION",
            ".PP", "corebpf is bcc's tracing tools (execsnoop, opensnoop, biolatency, ...) "
            "rebuilt on libbpf and CO\\-RE: the BPF programs are compiled once, when the "
            "package is built, and relocated by the system's libbpf against the running "
            "kernel's BTF when a tool starts, so a traced host needs no compiler and no "
            "kernel headers.  The tools keep bcc's names, options and output formats."]
    if suffix:
        out += [".PP", f"Each tool is installed as {bold('/usr/sbin/NAME' + suffix)} (beside "
                "bcc's NAME\\-bpfcc and libbpf\\-tools' NAME) and as "
                f"{bold('/usr/lib/corebpf/bin/NAME')}: put that directory first on PATH to "
                "call the tools by bcc's plain names."]
    out += [".SH COMMANDS",
            ".TP", bold("list"), "Every tool, one line each: its name and what it shows.",
            ".TP", bold("doctor"), esc_prose(
                "The kernel release and architecture, the libbpf version and path, the "
                "kernel BTF, tracefs, the caller's capabilities, whether each probe kind "
                "works here (kprobe, fentry, tp_btf, raw_tp, tracepoint, uprobe, USDT, perf "
                "sampling, ring buffers), and for every tool whether it runs here and "
                "through which probes, or the one line that says why not.  Each tool's own "
                "code chooses and loads its programs into the kernel; nothing is attached."),
            ".TP", bold("features"), "The kernel feature probes, one per line.",
            ".TP", f"{bold('exporter')} [{italic('ARGS')} ...]",
            f"The Prometheus exporter, as {bold('corebpf-exporter')}(8).",
            ".TP", f"{italic('TOOL')} [{italic('ARGS')} ...]",
            f"Run a tool, as {bold('TOOL' + suffix)} would."]
    out += [".SH DOCTOR OPTIONS"] + options(dp)
    out += [".SH TOOLS"]
    for n in tools.names():
        out += [".TP", f"{bold(n + suffix)}(8)", esc_prose(tools.summary(n))]
    out += [".SH ENVIRONMENT"]
    for var, what in ENVIRONMENT:
        out += [".TP", bold(var), esc_prose(what)]
    out += [".SH EXAMPLES",
            ".TP", bold("corebpf doctor"), "what runs here, and why not",
            ".TP", bold("corebpf doctor --json"), "the same for a fleet (one JSON document)",
            ".TP", bold("corebpf execsnoop -T"), "run execsnoop with a time column"]
    out += [".SH SEE ALSO", ", ".join(f"{bold(n + suffix)}(8)" for n in tools.names()) +
            f", {bold('corebpf-exporter')}(8), {bold('bpftool')}(8)"]
    return "\n".join(out) + "\n"


def _date(text=None) -> str:
    if text:
        return text
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
            else datetime.datetime.now(datetime.timezone.utc))
    return when.strftime("%Y-%m-%d")


def exporter_page(date: str, version: str) -> str:
    """corebpf-exporter(8), from its parser and docstring."""
    from corebpf.exporter import main as exporter
    parser = exporter.parser()
    desc, notes, examples, _ = split_doc(exporter.__doc__)
    command = exporter.PROG
    summary = " ".join(desc[0].split()).split(". ")[0].rstrip(".")
    out = _header(command, date, version)
    out += [".SH NAME", f"{esc_cmd(command)} \\- {esc_prose(summary)}"]
    out += [".SH SYNOPSIS"] + synopsis(parser, command)
    out += [".SH DESCRIPTION"]
    for p in desc + notes:
        out += paragraph(p)
    out += [".PP", "It needs the Python package prometheus_client (Debian: "
            "python3\\-prometheus\\-client).  The Debian package installs a hardened "
            "systemd unit, neither enabled nor started: "
            f"{bold('systemctl enable --now corebpf-exporter')}."]
    out += [".SH OPTIONS"] + options(parser)
    out += [".SH EXAMPLES"]
    for cmd, what in examples:
        out += [".TP", bold(cmd), esc_prose(what or "")]
    out += [".SH ENVIRONMENT"]
    for var, what in ENVIRONMENT:
        out += [".TP", bold(var), esc_prose(what)]
    out += [".SH SEE ALSO", f"{bold('corebpf')}(8), {bold('prometheus')}(1)"]
    return "\n".join(out) + "\n"


def write_all(outdir: str, suffix: str = "-corebpf", date: str = None) -> list:
    """Write every page into outdir; return their paths."""
    from corebpf import __version__, tools
    date = _date(date)
    os.makedirs(outdir, exist_ok=True)
    pages = {f"{n}{suffix}.8": tool_page(n, suffix, date, __version__) for n in tools.names()}
    pages["corebpf.8"] = corebpf_page(suffix, date, __version__)
    pages["corebpf-exporter.8"] = exporter_page(date, __version__)
    paths = []
    for fname, text in sorted(pages.items()):
        path = os.path.join(outdir, fname)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        paths.append(path)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Write corebpf's man pages (section 8).")
    p.add_argument("-o", "--out", default="man", help="output directory (default: man)")
    p.add_argument("--suffix", default="-corebpf",
                   help="appended to each tool's name (default: -corebpf)")
    p.add_argument("--date", help="the pages' date, YYYY-MM-DD (default: SOURCE_DATE_EPOCH)")
    a = p.parse_args(argv)
    paths = write_all(a.out, a.suffix, a.date)
    print(f"manpages.py: {len(paths)} pages in {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
