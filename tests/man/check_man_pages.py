#!/usr/bin/env python3
"""Renders each tool's man page (`TOOL --help-man`) the way man(1) does at 80 columns and checks it: no groff
warning, no line over 80 columns, the sections of a man page, and every option that `TOOL --help` lists.

Usage: check_man_pages.py BINARY...   (exit 77, "skipped", when groff is not installed)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

WIDTH = 80
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
# An option line of --help: two blanks, an optional short name, then the long name.
HELP_OPTION = re.compile(r"^  (?:-[A-Za-z],)?(--[a-z0-9][a-z0-9-]*)", re.M)


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def check(binary):
    name = os.path.basename(binary)
    problems = []
    page = run([binary, "--help-man"])
    if page.returncode != 0 or not page.stdout.startswith('.\\"'):
        return [f"{name} --help-man: exit status {page.returncode}, {page.stderr.strip()}"]
    # man(1) with MANWIDTH=80: line length 80, warnings on; grotty without bold/underline escapes.
    out = run(["groff", "-man", "-Tutf8", "-ww", f"-rLL={WIDTH}n", "-P-cbou"], input=page.stdout)
    if out.returncode != 0 or out.stderr.strip():
        problems.append(f"groff says: {out.stderr.strip()} (exit status {out.returncode})")
    text = out.stdout
    renderings = [("groff", text)]
    if shutil.which("man"):
        with tempfile.NamedTemporaryFile("w", suffix=".1") as f:
            f.write(page.stdout)
            f.flush()
            env = dict(os.environ, MANWIDTH=str(WIDTH), MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
            shown = run(["man", "-l", f.name], env=env)
            if shown.returncode != 0 or shown.stderr.strip():
                problems.append(f"man -l says: {shown.stderr.strip()} (exit status {shown.returncode})")
            renderings.append(("man -l", shown.stdout))
    for how, rendered in renderings:
        for number, line in enumerate(rendered.splitlines(), 1):
            if len(line) > WIDTH:
                problems.append(f"{how}: line {number} has {len(line)} columns: {line!r}")
    for section in SECTIONS:
        if not re.search(rf"^{section}$", text, re.M):
            problems.append(f"no {section} section")
    if text.count("Usage:") > 0:
        problems.append("'Usage:' in the page: --help pasted?")
    flags = HELP_OPTION.findall(run([binary, "--help"]).stdout)
    if len(flags) < 5:
        problems.append(f"{name} --help lists {len(flags)} options: not parsed")
    for flag in flags:
        # An option's tag, at the start of an indented line, with ASCII hyphens (as typed).
        if not re.search(rf"^ +(?:-[A-Za-z], )?{re.escape(flag)}(?:[ ,]|$)", text, re.M):
            problems.append(f"{flag} (in --help) is not in the page")
    return [f"{name}(1): {p}" for p in problems]


def main():
    if not shutil.which("groff"):
        print("groff is not installed: skipped")
        return 77
    problems = [p for binary in sys.argv[1:] for p in check(binary)]
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(sys.argv) - 1} man pages render cleanly at {WIDTH} columns with every option")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
