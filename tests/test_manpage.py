"""The manual pages against the programs: mandoc finds nothing to warn
about in any page; for kopeio-networkd(8) and kopeio-networkctl(8),
every option in --help has an item in the page's option list and every
item there is an option --help knows, and the page renders; every key
the configuration parser accepts is in kopeio-networkd.conf(5) and
every key there is accepted; every metric the metrics process serves
is in kopeio-networkd(8).

Environment: KN_BUILDDIR (the programs are in $KN_BUILDDIR/src),
KN_SRCDIR (the pages are in $KN_SRCDIR/man), MANDOC (the mandoc
program; the whole test is skipped without it).  Prints TAP.
Python 3 standard library only."""

import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILDDIR = os.environ.get("KN_BUILDDIR") or HERE
SRCDIR = os.environ.get("KN_SRCDIR") or HERE
DAEMON = os.path.join(BUILDDIR, "src", "kopeio-networkd")
CTL = os.path.join(BUILDDIR, "src", "kopeio-networkctl")
MANPAGE = os.path.join(SRCDIR, "man", "kopeio-networkd.8")
CTLPAGE = os.path.join(SRCDIR, "man", "kopeio-networkctl.8")
CONFPAGE = os.path.join(SRCDIR, "man", "kopeio-networkd.conf.5")
MANDOC = os.environ.get("MANDOC", "")

# "  -d, --debug   ..." or "      --chroot dir   ..." in the usage text.
HELP_OPTION = re.compile(
    r"^\s+(?:(-[A-Za-z0-9])(?:,\s*|\s)\s*)?(--[A-Za-z0-9][A-Za-z0-9-]*)?")


def run(argv):
    """(exit status, stdout, stderr) of argv, or None when it cannot
    be started."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return (None, "", str(e))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def help_options(text):
    """Every -x and --long option of the option lines of the usage
    text: the indented lines that start with a dash, after the synopsis."""
    opts = []
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    for line in body.splitlines():
        if not re.match(r"^\s+-", line):
            continue
        m = HELP_OPTION.match(line)
        for o in (m.group(1), m.group(2)) if m else ():
            if o and o not in opts:
                opts.append(o)
    return opts


def mdoc_words(args):
    """The arguments of a macro line, quoting as mdoc has it."""
    try:
        return shlex.split(args.replace("\\", "\\\\"), posix=True)
    except ValueError:
        return args.split()


def fl_tokens(words):
    """-x / --long for each argument of each Fl in a macro line."""
    out = []
    i = 0
    while i < len(words):
        if words[i] != "Fl":
            i += 1
            continue
        i += 1
        # Fl takes words up to the next macro or a lone delimiter.
        while i < len(words) and not re.match(r"^[A-Z][a-z][a-z]?$",
                                              words[i]):
            w = words[i]
            i += 1
            if w in (",", ".", ";", ":", "|", "(", ")", "[", "]"):
                break
            w = w.replace("\\-", "-").replace("\\&", "")
            out.append("-" + w)
    return out


def manpage_options(text):
    """The options of the page's option list: the outermost .Bl lists
    of the DESCRIPTION section whose items carry Fl, and the Fl words
    of those items."""
    opts = []
    section = None
    stack = []              # one entry per open .Bl: does it hold options?
    items = []              # .It lines of the outermost lists
    for line in text.splitlines():
        if not line.startswith("."):
            continue
        macro, _, args = line[1:].partition(" ")
        macro = macro.strip()
        if macro == "Sh":
            section = args.strip().strip('"')
            stack = []
            continue
        if section != "DESCRIPTION":
            continue
        if macro == "Bl":
            stack.append(True)
        elif macro == "El":
            if stack:
                stack.pop()
        elif macro == "It" and len(stack) == 1:
            items.append(fl_tokens(mdoc_words(args)))
    for toks in items:
        for t in toks:
            if t not in opts:
                opts.append(t)
    return opts


class Tap:
    def __init__(self):
        self.results = []

    def ok(self, cond, desc, diag=None):
        self.results.append((bool(cond), desc, diag))

    def report(self):
        print("1..%d" % len(self.results))
        failed = 0
        for n, (cond, desc, diag) in enumerate(self.results, 1):
            print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
            if not cond:
                failed += 1
                for line in str(diag or "").splitlines()[-40:]:
                    print("# " + line)
        sys.stdout.flush()
        return 1 if failed else 0


def read(tap, path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        tap.ok(False, "%s can be read" % path, e)
        return ""


def lint(tap, path):
    rc, out, err = run([MANDOC, "-Tlint", "-W", "warning", path])
    tap.ok(rc == 0 and out == "" and err == "",
           "%s: mandoc -Tlint -W warning reports nothing"
           % os.path.basename(path), "exit %s\n%s%s" % (rc, out, err))


def rendered(tap, path):
    rc, out, err = run([MANDOC, "-Tutf8", path])
    plain = re.sub(r".\x08", "", out)
    tap.ok(rc == 0 and err == "" and plain.strip() != "",
           "mandoc -Tutf8 renders %s" % os.path.basename(path),
           "exit %s\n%s" % (rc, err))
    return plain


def check_program(tap, prog, path, sections):
    """The page's option list against the program's --help."""
    page = read(tap, path)
    name = os.path.basename(path)
    lint(tap, path)
    rc, out, err = run([prog, "--help"])
    helpopts = help_options(out) if rc == 0 else []
    tap.ok(rc == 0 and len(helpopts) > 0,
           "%s --help lists options" % os.path.basename(prog),
           "exit %s, %d options found\n%s%s" %
           (rc, len(helpopts), out, err))
    pageopts = manpage_options(page)
    tap.ok(len(pageopts) > 0, "%s has an option list" % name,
           "no .It Fl item in a .Bl list of DESCRIPTION")
    for o in helpopts:
        tap.ok(o in pageopts, "option %s of --help is in %s" % (o, name),
               "no .It item in the option list names %s; the page has: %s"
               % (o, " ".join(pageopts)))
    for o in pageopts:
        tap.ok(o in helpopts, "option %s of %s is in --help" % (o, name),
               "--help does not list %s; it has: %s"
               % (o, " ".join(helpopts)))
    plain = rendered(tap, path)
    for sect in sections:
        tap.ok(re.search(r"^%s$" % sect, plain, re.M) is not None,
               "%s has the %s section" % (name, sect),
               "no line \"%s\" in the rendered page" % sect)
    return page


def source(name):
    with open(os.path.join(SRCDIR, "src", name), encoding="utf-8") as f:
        return f.read()


def main():
    if not MANDOC or not os.access(MANDOC, os.X_OK):
        print("1..0 # SKIP mandoc not installed")
        return 0
    tap = Tap()
    page = check_program(tap, DAEMON, MANPAGE, ("EXIT STATUS", "SIGNALS"))
    check_program(tap, CTL, CTLPAGE, ("EXIT STATUS",))

    # Configuration keys: the parser's against the page's.
    conf = read(tap, CONFPAGE)
    lint(tap, CONFPAGE)
    rendered(tap, CONFPAGE)
    src = source("config_file.c")
    keys = set(re.findall(r'^\t\{ "\w*", "(\w+)", (?:OPT_\w+|0), VALUE_\w+ \}',
                          src, re.M))
    # An item each; the ipsec mapping's keys are named in its item.
    documented = set(re.findall(r"^\.It Ic (\w+)", conf, re.M))
    named = set(re.findall(r"^\.(?:It )?Ic (\w+)", conf, re.M))
    tap.ok(len(keys) >= 15, "the parser's keys are found (%d)" % len(keys))
    for k in sorted(keys):
        tap.ok(k in named, "key %s is in kopeio-networkd.conf(5)" % k)
    for k in sorted(documented - keys):
        tap.ok(False, "key %s of the page is accepted by the parser" % k)

    # Metrics: every family the metrics process serves is documented.
    names = re.findall(r'(?:family\(&?o|[SWE]\(\w+), "(\w+)"',
                       source("metrics.c"))
    tap.ok(len(names) > 20, "the served metrics are found (%d)" % len(names))
    for n in names:
        tap.ok(("kopeio_networking_" + n) in page,
               "metric kopeio_networking_%s is in kopeio-networkd(8)" % n)
    return tap.report()


if __name__ == "__main__":
    sys.exit(main())
