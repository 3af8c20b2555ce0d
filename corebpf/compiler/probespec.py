"""The probe-spec and expression language of trace, argdist, funccount,
funclatency and stackcount: lexer, parser and AST.  Pure Python, no kernel.

Every error is a SpecError carrying the text and the 0-based position of
the offending character; str(e) is one line: `<msg> at column N of '<text>'`.

Expressions (C subset; precedence as in C):
    expr    := a || b | a && b | a | b | a ^ b | a & b | a == b | a != b
             | a < b | a <= b | a > b | a >= b | a << b | a >> b
             | a + b | a - b | a * b | a / b | a % b
             | !a | -a | ~a | *a | (type) a | postfix
    postfix := primary ( -> name | . name | [ expr ] )*  [@user]
    primary := 123 | 0x7b | 'c' | "string" | name | $name | name(args) | (expr)
Names: arg1..argN, retval, args (tracepoint record), a signature's parameter
names; $retval $latency $pid $tid $tgid $uid $gid $cpu $comm $task
(and bcc's $PID $TID $COMM $UID $GID).  STRCMP("literal", expr).

Probe specs:
    trace:      [p|r]:[lib]:func[+off] | t:cat:event | u:lib[:provider]:probe | func | lib:func
                then optional (signature), (filter) and "format", args...
    argdist:    {p,r,t,u}:{lib,category}:func(sig)[:type[,type]:expr[,expr][:filter]][#label]
    funccount:  func | lib:func | p:lib:func | p::func | t:cat:event | u:lib:probe
"""
from __future__ import annotations

import re


class SpecError(ValueError):
    """A malformed spec: one-line message with the position."""

    def __init__(self, msg: str, text: str = "", pos: int = None):
        self.msg = msg
        self.text = text
        self.pos = pos
        super().__init__(str(self))

    def __str__(self):
        if self.pos is None or not self.text:
            return self.msg
        text = self.text.replace("\n", " ")
        return f"{self.msg} at column {self.pos + 1} of '{text}'"


# -- AST ------------------------------------------------------------------------------

class Node:
    __slots__ = ("pos",)
    fields = ()

    def __eq__(self, other):
        return type(self) is type(other) and all(
            getattr(self, f) == getattr(other, f) for f in self.fields)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(getattr(self, f)) for f in self.fields)})"

    def text(self) -> str:
        """The expression written back in C syntax (for labels)."""
        return _unparse(self)


class Num(Node):
    __slots__ = ("value",)
    fields = ("value",)

    def __init__(self, value, pos):
        self.value, self.pos = value, pos


class Str(Node):
    __slots__ = ("value",)
    fields = ("value",)

    def __init__(self, value: bytes, pos):
        self.value, self.pos = value, pos


class Name(Node):
    __slots__ = ("name", "user")
    fields = ("name", "user")

    def __init__(self, name, pos, user=False):
        self.name, self.pos, self.user = name, pos, user


class Var(Node):
    __slots__ = ("name",)
    fields = ("name",)

    def __init__(self, name, pos):
        self.name, self.pos = name, pos


class Unary(Node):
    __slots__ = ("op", "expr")
    fields = ("op", "expr")

    def __init__(self, op, expr, pos):
        self.op, self.expr, self.pos = op, expr, pos


class Binary(Node):
    __slots__ = ("op", "left", "right")
    fields = ("op", "left", "right")

    def __init__(self, op, left, right, pos):
        self.op, self.left, self.right, self.pos = op, left, right, pos


class Member(Node):
    __slots__ = ("expr", "name", "arrow")
    fields = ("expr", "name", "arrow")

    def __init__(self, expr, name, arrow, pos):
        self.expr, self.name, self.arrow, self.pos = expr, name, arrow, pos


class Index(Node):
    __slots__ = ("expr", "index")
    fields = ("expr", "index")

    def __init__(self, expr, index, pos):
        self.expr, self.index, self.pos = expr, index, pos


class Call(Node):
    __slots__ = ("name", "args")
    fields = ("name", "args")

    def __init__(self, name, args, pos):
        self.name, self.args, self.pos = name, args, pos


class Cast(Node):
    __slots__ = ("ctype", "expr")
    fields = ("ctype", "expr")

    def __init__(self, ctype, expr, pos):
        self.ctype, self.expr, self.pos = ctype, expr, pos


class UserMem(Node):
    """expr@user: read what expr points to from user memory."""
    __slots__ = ("expr",)
    fields = ("expr",)

    def __init__(self, expr, pos):
        self.expr, self.pos = expr, pos


class CType:
    """A C type as written: base words ('unsigned long', 'struct file', 'u32'),
    pointer depth."""

    __slots__ = ("base", "ptr", "pos")

    def __init__(self, base: str, ptr: int = 0, pos: int = 0):
        self.base, self.ptr, self.pos = base, ptr, pos

    def __eq__(self, other):
        return isinstance(other, CType) and (self.base, self.ptr) == (other.base, other.ptr)

    def __repr__(self):
        return f"CType({self.base!r}, {self.ptr})"

    def __str__(self):
        return self.base + (" " + "*" * self.ptr if self.ptr else "")

    @property
    def is_string(self) -> bool:
        return self.ptr == 1 and self.base in ("char", "const char", "unsigned char",
                                               "signed char")


# -- lexer ------------------------------------------------------------------------------

_PUNCT = ("->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
          "(", ")", "[", "]", ",", ".", "!", "~", "*", "/", "%", "+", "-", "<", ">",
          "&", "^", "|", "@", ":", "#", "?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUM = re.compile(r"0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+")
_ESC = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8,
        "f": 12, "v": 11}


class Tok:
    __slots__ = ("kind", "value", "pos", "end")

    def __init__(self, kind, value, pos, end):
        self.kind, self.value, self.pos, self.end = kind, value, pos, end

    def __repr__(self):
        return f"Tok({self.kind}, {self.value!r}, {self.pos})"


def _string_literal(text: str, pos: int, quote: str):
    """Parse a quoted literal starting at text[pos] == quote; return (bytes, end)."""
    out = bytearray()
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return bytes(out), i + 1
        if c == "\\":
            if i + 1 >= len(text):
                break
            e = text[i + 1]
            if e == "x":
                m = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2:])
                if not m:
                    raise SpecError("bad \\x escape", text, i)
                out.append(int(m.group(0), 16))
                i += 2 + len(m.group(0))
                continue
            if e not in _ESC:
                raise SpecError(f"unknown escape \\{e}", text, i)
            out.append(_ESC[e])
            i += 2
            continue
        out.extend(c.encode("utf-8", "surrogatepass"))
        i += 1
    raise SpecError("unterminated " + ("string" if quote == '"' else "character"), text, pos)


def tokenize(text: str, start: int = 0, end: int = None) -> list:
    """Tokens of text[start:end]; positions are absolute in `text`."""
    end = len(text) if end is None else end
    toks = []
    i = start
    while i < end:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == '"' or c == "'":
            val, j = _string_literal(text, i, c)
            if j > end:
                raise SpecError("unterminated string", text, i)
            if c == "'":
                if len(val) != 1:
                    raise SpecError("character literal must hold one character", text, i)
                toks.append(Tok("num", val[0], i, j))
            else:
                toks.append(Tok("str", val, i, j))
            i = j
            continue
        if c == "$":
            m = _IDENT.match(text, i + 1, end)
            if not m:
                raise SpecError("expected a name after '$'", text, i)
            toks.append(Tok("var", "$" + m.group(0), i, m.end()))
            i = m.end()
            continue
        if c in "0123456789":
            m = _NUM.match(text, i, end)
            s = m.group(0)
            j = m.end()
            if j < end and (text[j].isalnum() or text[j] == "_"):
                # integer suffixes (10UL) are accepted, other letters are not
                sm = re.match(r"[uUlL]+", text[j:end])
                if sm and not (j + sm.end() < end and (text[j + sm.end()].isalnum()
                                                        or text[j + sm.end()] == "_")):
                    j += sm.end()
                else:
                    raise SpecError(f"bad number {text[i:j + 1]!r}", text, i)
            if len(s) > 1 and s[0] == "0" and s[1] in "xX":
                v = int(s, 16)
            elif len(s) > 1 and s[0] == "0" and s[1] in "bB":
                v = int(s[2:], 2)
            elif len(s) > 1 and s[0] == "0":
                if not all(ch in "01234567" for ch in s):
                    raise SpecError(f"bad octal number {s!r}", text, i)
                v = int(s, 8)
            else:
                v = int(s)
            if v >= 1 << 64:
                raise SpecError("number does not fit 64 bits", text, i)
            toks.append(Tok("num", v, i, j))
            i = j
            continue
        m = _IDENT.match(text, i, end)
        if m:
            toks.append(Tok("ident", m.group(0), i, m.end()))
            i = m.end()
            continue
        for p in _PUNCT:
            if text.startswith(p, i) and i + len(p) <= end:
                toks.append(Tok("op", p, i, i + len(p)))
                i += len(p)
                break
        else:
            raise SpecError(f"unexpected character {c!r}", text, i)
    toks.append(Tok("end", None, end, end))
    return toks


# -- parser -------------------------------------------------------------------------------

_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]
_PREC = {op: i for i, ops in enumerate(_BINARY) for op in ops}
_TYPE_WORDS = {"struct", "union", "enum", "unsigned", "signed", "const", "volatile", "char",
               "short", "int", "long", "void", "bool", "_Bool", "float", "double"}
_TYPEDEFS = {"u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16", "__u32",
             "__u64", "__s8", "__s16", "__s32", "__s64", "size_t", "ssize_t", "pid_t",
             "uid_t", "gid_t", "loff_t", "off_t", "dev_t", "umode_t", "uint8_t", "uint16_t",
             "uint32_t", "uint64_t", "int8_t", "int16_t", "int32_t", "int64_t", "gfp_t",
             "sector_t", "uintptr_t", "intptr_t", "time_t", "mode_t", "ino_t"}
MAX_DEPTH = 200


class Parser:
    """Recursive-descent parser over the tokens of text[start:end]."""

    def __init__(self, text: str, start: int = 0, end: int = None, typedefs=()):
        self.text = text
        self.toks = tokenize(text, start, end)
        self.i = 0
        self.depth = 0
        self.typedefs = set(_TYPEDEFS) | set(typedefs)

    # token helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k=1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    def at(self, value) -> bool:
        return self.tok.kind == "op" and self.tok.value == value

    def expect(self, value) -> Tok:
        if not self.at(value):
            self.fail(f"expected '{value}'")
        return self.next()

    def fail(self, msg, tok=None):
        t = tok or self.tok
        got = "end of input" if t.kind == "end" else repr(self.text[t.pos:t.end])
        raise SpecError(f"{msg}, got {got}", self.text, t.pos)

    def done(self):
        if self.tok.kind != "end":
            self.fail("unexpected text")

    # grammar
    def expr(self, min_prec: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SpecError("expression nested too deeply", self.text, self.tok.pos)
        left = self.unary()
        while self.tok.kind == "op" and self.tok.value in _PREC and \
                _PREC[self.tok.value] >= min_prec:
            op = self.next()
            right = self.expr(_PREC[op.value] + 1)
            left = Binary(op.value, left, right, op.pos)
        self.depth -= 1
        return left

    def _is_type_start(self, k=1) -> bool:
        t = self.peek(k)
        return t.kind == "ident" and (t.value in _TYPE_WORDS or t.value in self.typedefs)

    def ctype(self) -> CType:
        """A C type name: words then '*'s."""
        start = self.tok
        words = []
        if self.tok.kind == "ident" and self.tok.value in ("struct", "union", "enum"):
            words.append(self.next().value)
            if self.tok.kind != "ident":
                self.fail(f"expected a {words[0]} name")
            words.append(self.next().value)
        else:
            while self.tok.kind == "ident" and (self.tok.value in _TYPE_WORDS or
                                               self.tok.value in self.typedefs):
                w = self.next().value
                if w in ("struct", "union", "enum"):
                    if self.tok.kind != "ident":
                        self.fail(f"expected a {w} name")
                    words.extend([w, self.next().value])
                    break
                words.append(w)
        if not words:
            self.fail("expected a type")
        ptr = 0
        while self.at("*"):
            self.next()
            ptr += 1
        base = " ".join(w for w in words if w not in ("volatile",))
        return CType(base, ptr, start.pos)

    def unary(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.value in ("!", "-", "~", "*", "+"):
            self.next()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SpecError("expression nested too deeply", self.text, t.pos)
            e = self.unary()
            self.depth -= 1
            return e if t.value == "+" else Unary(t.value, e, t.pos)
        if t.kind == "op" and t.value == "&":
            self.fail("the address-of operator '&' is not supported")
        if t.kind == "op" and t.value == "(" and self._is_type_start():
            self.next()
            ct = self.ctype()
            self.expect(")")
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SpecError("expression nested too deeply", self.text, t.pos)
            e = self.unary()
            self.depth -= 1
            return Cast(ct, e, t.pos)
        return self.postfix()

    def postfix(self) -> Node:
        e = self.primary()
        while True:
            t = self.tok
            if t.kind == "op" and t.value in ("->", "."):
                self.next()
                if self.tok.kind != "ident":
                    self.fail("expected a field name")
                e = Member(e, self.next().value, t.value == "->", t.pos)
            elif t.kind == "op" and t.value == "[":
                self.next()
                idx = self.expr()
                self.expect("]")
                e = Index(e, idx, t.pos)
            elif t.kind == "op" and t.value == "@":
                self.next()
                if not (self.tok.kind == "ident" and self.tok.value == "user"):
                    self.fail("expected 'user' after '@'")
                self.next()
                e = UserMem(e, t.pos)
            else:
                return e

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.next()
            return Num(t.value, t.pos)
        if t.kind == "str":
            self.next()
            val = t.value
            while self.tok.kind == "str":          # "a" "b" concatenation
                val += self.next().value
            return Str(val, t.pos)
        if t.kind == "var":
            self.next()
            if t.value == "$entry":
                self.expect("(")
                if self.tok.kind != "ident":
                    self.fail("expected a parameter name")
                n = self.next()
                self.expect(")")
                return Call("$entry", [Name(n.value, n.pos)], t.pos)
            return Var(t.value, t.pos)
        if t.kind == "ident":
            self.next()
            if self.at("("):
                self.next()
                args = []
                if not self.at(")"):
                    args.append(self.expr())
                    while self.at(","):
                        self.next()
                        args.append(self.expr())
                self.expect(")")
                return Call(t.value, args, t.pos)
            return Name(t.value, t.pos)
        if t.kind == "op" and t.value == "(":
            self.next()
            e = self.expr()
            self.expect(")")
            return e
        self.fail("expected an expression")


def parse_expr(text: str, start: int = 0, end: int = None, typedefs=()) -> Node:
    """Parse one expression filling text[start:end]."""
    p = Parser(text, start, end, typedefs)
    e = p.expr()
    p.done()
    return e


def parse_expr_list(text: str, start: int = 0, end: int = None, typedefs=()) -> list:
    """Comma-separated expressions (trace's format arguments)."""
    p = Parser(text, start, end, typedefs)
    out = []
    if p.tok.kind == "end":
        return out
    out.append(p.expr())
    while p.at(","):
        p.next()
        out.append(p.expr())
    p.done()
    return out


def parse_ctype(text: str, start: int = 0, end: int = None) -> CType:
    p = Parser(text, start, end)
    if p.tok.kind == "ident" and p.tok.value not in _TYPE_WORDS and \
            p.tok.value not in p.typedefs:
        # an unknown typedef name (e.g. a kernel typedef): accept one word
        t = p.next()
        ptr = 0
        while p.at("*"):
            p.next()
            ptr += 1
        p.done()
        return CType(t.value, ptr, t.pos)
    ct = p.ctype()
    p.done()
    return ct


def parse_signature(text: str, start: int, end: int) -> list:
    """`int fd, const char *buf, size_t n` -> [(name, CType)] (empty for '' or 'void')."""
    body = text[start:end]
    if not body.strip() or body.strip() == "void":
        return []
    out = []
    pos = start
    for part in _split_top(text, start, end, ","):
        a, b = part
        seg = text[a:b]
        if not seg.strip():
            raise SpecError("empty parameter", text, a)
        m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", seg)
        if not m or a + m.start() == a + len(seg) - len(seg.lstrip()):
            raise SpecError("parameter needs a type and a name", text, a)
        name = m.group(1)
        ct = parse_ctype(text, a, a + m.start())
        out.append((name, ct))
        pos = b
    del pos
    return out


def _split_top(text: str, start: int, end: int, sep: str) -> list:
    """[(a, b)] ranges of text[start:end] split at `sep` outside (), [] and quotes."""
    out = []
    depth = 0
    i = start
    seg = start
    while i < end:
        c = text[i]
        if c in "\"'":
            _, j = _string_literal(text, i, c)
            i = j
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unbalanced '{c}'", text, i)
        elif c == sep and depth == 0:
            out.append((seg, i))
            seg = i + 1
        i += 1
    if depth:
        raise SpecError("unbalanced '('", text, end)
    out.append((seg, end))
    return out


def _match_paren(text: str, i: int) -> int:
    """Index just past the ')' matching the '(' at text[i]."""
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c in "\"'":
            _, j = _string_literal(text, j, c)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise SpecError("unmatched '('", text, i)


# -- probe specs ----------------------------------------------------------------------------

class ProbeSpec:
    """Where to probe: kind (p r t u), library/category, function/event, offset."""

    __slots__ = ("kind", "library", "function", "provider", "offset", "text", "pos")

    def __init__(self, kind, library, function, provider=None, offset=0, text="", pos=0):
        self.kind, self.library, self.function = kind, library, function
        self.provider, self.offset, self.text, self.pos = provider, offset, text, pos

    @property
    def category(self):
        return self.library

    def __repr__(self):
        return f"ProbeSpec({self.kind}:{self.library}:{self.function}+{self.offset})"


def parse_probe_point(text: str, start: int, end: int, allow_offset: bool = True) -> ProbeSpec:
    """`[p|r|t|u]:lib:func[+off]`, `lib:func`, `func` (trace's rules)."""
    spec = text[start:end]
    if not spec:
        raise SpecError("empty probe", text, start)
    parts = spec.split(":")
    bounds = []
    a = start
    for p in parts:
        bounds.append(a)
        a += len(p) + 1
    if len(parts) == 1:
        kind, lib, func, fpos = "p", "", parts[0], bounds[0]
    elif len(parts) == 2:
        kind, lib, func, fpos = "p", parts[0], parts[1], bounds[1]
    else:
        kind = parts[0] or "p"
        if kind not in ("p", "r", "t", "u"):
            raise SpecError(f"probe type must be p, r, t or u, not {parts[0]!r}", text, start)
        if kind == "t":
            if len(parts) != 3:
                raise SpecError("a tracepoint is t:category:event", text, start)
            lib, func, fpos = parts[1], parts[2], bounds[2]
        elif kind == "u":
            if len(parts) not in (3, 4):
                raise SpecError("a USDT probe is u:library[:provider]:probe", text, start)
            provider = parts[2] if len(parts) == 4 else None
            return _checked(ProbeSpec("u", parts[1], parts[-1], provider, 0, text, start),
                            text, bounds[-1])
        else:
            lib = ":".join(parts[1:-1])
            func, fpos = parts[-1], bounds[-1]
    offset = 0
    if "+" in func:
        if not allow_offset or kind == "t":
            raise SpecError("an offset is not allowed here", text, fpos + func.index("+"))
        func, off = func.split("+", 1)
        try:
            offset = int(off, 0)
        except ValueError:
            raise SpecError(f"invalid offset {off!r}", text, fpos + len(func) + 1) from None
    return _checked(ProbeSpec(kind, lib, func, None, offset, text, start), text, fpos)


def _checked(ps: ProbeSpec, text: str, fpos: int) -> ProbeSpec:
    if not ps.function:
        raise SpecError("missing function or event name", text, fpos)
    if ps.kind == "t" and not ps.library:
        raise SpecError("missing tracepoint category", text, ps.pos + 2)
    if ps.kind == "u" and not ps.library:
        raise SpecError("missing library for the USDT probe", text, ps.pos + 2)
    bad = re.search(r"[^A-Za-z0-9_.*?\[\]$@^|+\\-]", ps.function)
    if bad:
        raise SpecError(f"unexpected character {bad.group(0)!r} in name", text,
                        fpos + bad.start())
    return ps


class TraceProbe:
    """One `trace` argument: where, signature, filter, format and its arguments."""

    __slots__ = ("point", "signature", "filter", "fmt", "fmt_pos", "args", "text")

    def __init__(self, point, signature, filt, fmt, fmt_pos, args, text):
        self.point, self.signature, self.filter = point, signature, filt
        self.fmt, self.fmt_pos, self.args, self.text = fmt, fmt_pos, args, text


def parse_trace_probe(text: str) -> TraceProbe:
    """Parse one trace probe argument (see module docstring)."""
    n = len(text)
    i = 0
    while i < n and text[i] in " \t":
        i += 1
    start = i
    while i < n and text[i] not in " \t(\"":
        i += 1
    point = parse_probe_point(text, start, i)
    sig = None
    if i < n and text[i] == "(":
        j = _match_paren(text, i)
        if point.kind in ("t", "u"):
            raise SpecError("tracepoint and USDT probes take no signature; use args->field "
                            "or argN", text, i)
        sig = parse_signature(text, i + 1, j - 1)
        i = j
    while i < n and text[i] in " \t":
        i += 1
    filt = None
    if i < n and text[i] == "(":
        j = _match_paren(text, i)
        filt = parse_expr(text, i + 1, j - 1, [])
        i = j
    while i < n and text[i] in " \t":
        i += 1
    fmt, fmt_pos, args = None, None, []
    if i < n:
        if text[i] != '"':
            raise SpecError("expected a filter in parentheses or a \"format\"", text, i)
        val, j = _string_literal(text, i, '"')
        fmt, fmt_pos = val.decode("utf-8", "replace"), i
        k = j
        while k < n and text[k] in " \t":
            k += 1
        if k < n:
            if text[k] != ",":
                raise SpecError("expected ',' before the format arguments", text, k)
            args = parse_expr_list(text, k + 1, n)
            if not args:
                raise SpecError("expected format arguments after ','", text, k)
    return TraceProbe(point, sig, filt, fmt, fmt_pos, args, text)


class ArgdistSpec:
    __slots__ = ("point", "signature", "types", "exprs", "expr_texts", "filter", "label",
                 "text")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


def parse_argdist_spec(text: str) -> ArgdistSpec:
    """Parse an argdist -C/-H specifier."""
    body_end = len(text)
    label = None
    # the label: after a '#' outside quotes/parentheses
    parts = _split_top(text, 0, len(text), "#")
    if len(parts) > 2:
        raise SpecError("more than one '#' label", text, parts[2][0] - 1)
    if len(parts) == 2:
        body_end = parts[0][1]
        label = text[parts[1][0]:parts[1][1]]
    fields = _split_top(text, 0, body_end, ":")
    if len(fields) < 3:
        raise SpecError("expected type:library:function(signature)", text, 0)
    if len(fields) > 6:
        raise SpecError("too many ':'-separated parts", text, fields[6][0] - 1)
    seg = [text[a:b] for a, b in fields]
    kind = seg[0].strip()
    if kind not in ("p", "r", "t", "u"):
        raise SpecError(f"probe type must be p, r, t or u, not {kind!r}", text, fields[0][0])
    fa, fb = fields[2]
    m = re.match(r"\s*([A-Za-z0-9_.*]+)\s*", text[fa:fb])
    if not m:
        raise SpecError("expected a function name", text, fa)
    func = m.group(1)
    k = fa + m.end()
    sig = []
    if k < fb and text[k] == "(":
        j = _match_paren(text, k)
        if j > fb:
            raise SpecError("unmatched '('", text, k)
        sig = parse_signature(text, k + 1, j - 1)
        if kind in ("t", "u") and sig:
            raise SpecError("tracepoint and USDT probes take no signature", text, k)
        k = j
    else:
        raise SpecError("expected '(' after the function name (e.g. func())", text, k)
    if text[k:fb].strip():
        raise SpecError("unexpected text after the signature", text, k)
    point = ProbeSpec(kind, seg[1].strip(), func, None, 0, text, 0)
    _checked(point, text, fa)
    types, exprs, filt, expr_texts = None, None, None, None
    if len(fields) >= 4:
        if len(fields) < 5:
            raise SpecError("a type needs an expression (type:expr)", text, fields[3][1])
        types = []
        for a, b in _split_top(text, fields[3][0], fields[3][1], ","):
            if not text[a:b].strip():
                raise SpecError("empty type", text, a)
            types.append(parse_ctype(text, a, b))
        exprs, expr_texts = [], []
        for a, b in _split_top(text, fields[4][0], fields[4][1], ","):
            if not text[a:b].strip():
                raise SpecError("empty expression", text, a)
            exprs.append(parse_expr(text, a, b))
            expr_texts.append(text[a:b].strip())
        if len(types) != len(exprs):
            raise SpecError(f"{len(types)} types but {len(exprs)} expressions", text,
                            fields[3][0])
    if len(fields) == 6:
        a, b = fields[5]
        if text[a:b].strip():
            filt = parse_expr(text, a, b)
    return ArgdistSpec(point=point, signature=sig, types=types, exprs=exprs,
                       expr_texts=expr_texts, filter=filt,
                       label=label, text=text)


def parse_pattern(text: str) -> ProbeSpec:
    """A funccount/stackcount/funclatency pattern: func, lib:func, p:lib:func,
    t:cat:event, u:lib:probe."""
    if not text:
        raise SpecError("empty pattern")
    parts = text.split(":")
    if len(parts) > 3:
        raise SpecError(f"Too many ':'-separated components in pattern {text}")
    if len(parts) == 1:
        ps = ProbeSpec("p", "", parts[0], text=text)
    elif len(parts) == 2:
        ps = ProbeSpec("p", parts[0], parts[1], text=text)
    else:
        if parts[0] not in ("p", "t", "u"):
            raise SpecError(f"Type must be 'p', 't', or 'u', but got {parts[0]}")
        ps = ProbeSpec(parts[0], parts[1], parts[2], text=text)
    if not ps.function:
        raise SpecError("missing function or event name", text, len(text))
    if ps.kind in ("t", "u") and not ps.library:
        raise SpecError("missing " + ("category" if ps.kind == "t" else "library"), text, 2)
    return ps


def glob_regex(pattern: str, regex: bool = False):
    """bcc's wildcard rule: '*' -> '.*', anchored; -r passes a regex through."""
    try:
        if regex:
            return re.compile(pattern)
        return re.compile("^" + pattern.replace("*", ".*") + "$")
    except re.error as e:
        raise SpecError(f"bad pattern {pattern!r}: {e}") from None


# -- unparse (labels, messages) -----------------------------------------------------------

def _unparse(n) -> str:
    if isinstance(n, Num):
        return str(n.value)
    if isinstance(n, Str):
        return '"' + n.value.decode("utf-8", "replace") + '"'
    if isinstance(n, (Name, Var)):
        return n.name
    if isinstance(n, Unary):
        return n.op + _unparse(n.expr)
    if isinstance(n, Binary):
        return f"{_unparse(n.left)} {n.op} {_unparse(n.right)}"
    if isinstance(n, Member):
        return _unparse(n.expr) + ("->" if n.arrow else ".") + n.name
    if isinstance(n, Index):
        return f"{_unparse(n.expr)}[{_unparse(n.index)}]"
    if isinstance(n, Call):
        return f"{n.name}({', '.join(_unparse(a) for a in n.args)})"
    if isinstance(n, Cast):
        return f"({n.ctype}){_unparse(n.expr)}"
    if isinstance(n, UserMem):
        return _unparse(n.expr) + "@user"
    return "?"
