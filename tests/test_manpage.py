"""The manual page against the program: mandoc finds nothing to warn
about, every option in --help has an item in the page's option list and
every item there is an option --help knows, and the page renders.

Environment: KN_BUILDDIR (the program is $KN_BUILDDIR/src/kopeio-networkd),
KN_SRCDIR (the page is $KN_SRCDIR/man/kopeio-networkd.8), MANDOC (the
mandoc program; the whole test is skipped without it).  Prints TAP.
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
MANPAGE = os.path.join(SRCDIR, "man", "kopeio-networkd.8")
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


def main():
    if not MANDOC or not os.access(MANDOC, os.X_OK):
        print("1..0 # SKIP mandoc not installed")
        return 0
    tap = Tap()

    try:
        with open(MANPAGE, encoding="utf-8") as f:
            page = f.read()
    except OSError as e:
        page = ""
        tap.ok(False, "the manual page can be read", e)

    # (a) no warnings or errors.
    rc, out, err = run([MANDOC, "-Tlint", "-W", "warning", MANPAGE])
    tap.ok(rc == 0 and out == "" and err == "",
           "mandoc -Tlint -W warning reports nothing",
           "exit %s\n%s%s" % (rc, out, err))

    # (b) every --help option has an item in the page.
    rc, out, err = run([DAEMON, "--help"])
    helpopts = help_options(out) if rc == 0 else []
    tap.ok(rc == 0 and len(helpopts) > 0,
           "%s --help lists options" % os.path.basename(DAEMON),
           "exit %s, %d options found\n%s%s" %
           (rc, len(helpopts), out, err))
    pageopts = manpage_options(page)
    tap.ok(len(pageopts) > 0, "the manual page has an option list",
           "no .It Fl item in a .Bl list of DESCRIPTION")
    for o in helpopts:
        tap.ok(o in pageopts, "option %s of --help is in the manual page" % o,
               "no .It item in the option list names %s; the page has: %s"
               % (o, " ".join(pageopts)))

    # (c) every item of the page is an option of --help.
    for o in pageopts:
        tap.ok(o in helpopts, "option %s of the manual page is in --help" % o,
               "--help does not list %s; it has: %s"
               % (o, " ".join(helpopts)))

    # (d) it renders, with the sections users look for.
    rc, out, err = run([MANDOC, "-Tutf8", MANPAGE])
    plain = re.sub(r".\x08", "", out)
    tap.ok(rc == 0 and err == "" and plain.strip() != "",
           "mandoc -Tutf8 renders the page", "exit %s\n%s" % (rc, err))
    for sect in ("EXIT STATUS", "SIGNALS"):
        tap.ok(re.search(r"^%s$" % sect, plain, re.M) is not None,
               "the rendered page has the %s section" % sect,
               "no line \"%s\" in the rendered page" % sect)
    return tap.report()


if __name__ == "__main__":
    sys.exit(main())
