"""bcc's per-language tool names: each runs a language tool with `-l LANG`
(bcc installs them as shell scripts doing the same), e.g. `javacalls 185`
is `ucalls -l java 185`.  Console scripts `NAME = corebpf.tools._aliases:NAME`
(setup.py) and `python3 -m corebpf NAME` lead here.  No imports at the top:
setup.py reads ALIASES from this file."""

ALIASES = {
    "cobjnew": ("uobjnew", "c"),
    "javacalls": ("ucalls", "java"),
    "javaflow": ("uflow", "java"),
    "javagc": ("ugc", "java"),
    "javaobjnew": ("uobjnew", "java"),
    "javastat": ("ustat", "java"),
    "javathreads": ("uthreads", "java"),
    "nodegc": ("ugc", "node"),
    "nodestat": ("ustat", "node"),
    "perlcalls": ("ucalls", "perl"),
    "perlflow": ("uflow", "perl"),
    "perlstat": ("ustat", "perl"),
    "phpcalls": ("ucalls", "php"),
    "phpflow": ("uflow", "php"),
    "phpstat": ("ustat", "php"),
    "pythoncalls": ("ucalls", "python"),
    "pythonflow": ("uflow", "python"),
    "pythongc": ("ugc", "python"),
    "pythonstat": ("ustat", "python"),
    "rubycalls": ("ucalls", "ruby"),
    "rubyflow": ("uflow", "ruby"),
    "rubygc": ("ugc", "ruby"),
    "rubyobjnew": ("uobjnew", "ruby"),
    "rubystat": ("ustat", "ruby"),
    "tclcalls": ("ucalls", "tcl"),
    "tclflow": ("uflow", "tcl"),
    "tclobjnew": ("uobjnew", "tcl"),
    "tclstat": ("ustat", "tcl"),
}


def argv_for(name: str, argv) -> tuple:
    """(tool, its argv) that alias `name` runs for the user's argv."""
    tool, lang = ALIASES[name]
    return tool, ["-l", lang, *argv]


def run_alias(name: str, argv=None) -> int:
    """Run alias `name` with argv (default: this process's arguments)."""
    import importlib
    import sys
    tool, args = argv_for(name, sys.argv[1:] if argv is None else argv)
    return importlib.import_module(f"corebpf.tools.{tool}").main(args)


def __getattr__(name):
    # the console scripts' entry points: corebpf.tools._aliases:javacalls -> main()
    if name in ALIASES:
        return lambda argv=None: run_alias(name, argv)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
