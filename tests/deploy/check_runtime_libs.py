#!/usr/bin/env python3
"""Checks that the container image's runtime stage provides every shared library its binaries load.

The packages of the runtime stage are those its `apt-get install` names, where a `*.deb` argument stands for
the project's own package (its Depends count, given with --deb), plus what they depend on, recursively, plus
the Essential packages every Debian image has. Each library `ldd BINARY` resolves must belong (`dpkg -S`) to
one of them. The dependency closure is computed from this machine's dpkg database: run it where the binaries
were built (the same Debian release as the image). Standard library only.

Usage: check_runtime_libs.py DOCKERFILE [--deb PACKAGE.deb] BINARY...
Exit status: 0 when every library is provided, 1 otherwise (each missing one is printed).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys


def dockerfile_instructions(path):
    """The instructions of the Dockerfile's last stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", open(path).read())
    lines = [l.strip() for l in text.split("\n") if l.strip() and not l.strip().startswith("#")]
    last = max(i for i, l in enumerate(lines) if l.startswith("FROM "))
    return lines[last:]


def runtime_install_arguments(instructions):
    """The package arguments of every `apt-get install` in the RUN instructions."""
    names = []
    for line in instructions:
        if not line.startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", line[4:]):
            words = shlex.split(command)
            if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                names += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return names


def deb_depends(deb):
    fields = subprocess.run(["dpkg-deb", "--field", deb, "Depends", "Pre-Depends"], capture_output=True,
                            text=True, check=True).stdout
    return ", ".join(l.split(":", 1)[1] for l in fields.splitlines() if ":" in l)


class Database:
    """This machine's installed packages: their dependencies, what they provide, which are Essential."""

    def __init__(self):
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}"
                              "\t${Provides}\t${Essential}\n"], capture_output=True, text=True, check=True).stdout
        self.depends, self.provided_by, self.essential = {}, {}, set()
        for line in out.splitlines():
            package, status, depends, provides, essential = line.split("\t")
            if not status.startswith("ii"):
                continue
            self.depends[package] = self.depends.get(package, "") + ", " + depends
            for entry in filter(None, (p.strip() for p in provides.split(","))):
                self.provided_by.setdefault(entry.split()[0].split(":")[0], package)
            if essential == "yes":
                self.essential.add(package)

    def relation_names(self, relation):
        """Packages a Depends-style relation brings in: for `a | b`, the first alternative present here."""
        names = []
        for clause in filter(None, (c.strip() for c in relation.split(","))):
            alternatives = [a.strip().split()[0].split(":")[0] for a in clause.split("|")]
            present = [a for a in alternatives if a in self.depends] + \
                [self.provided_by[a] for a in alternatives if a in self.provided_by]
            names.append(present[0] if present else alternatives[0])
        return names

    def closure(self, roots):
        """The roots, the Essential packages, and everything they depend on (Depends, Pre-Depends)."""
        seen = set()
        todo = list(roots) + sorted(self.essential)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += self.relation_names(self.depends.get(name, ""))
        return seen


def shared_libraries(binary):
    """(soname, resolved path or None) for every library the dynamic loader maps for the binary."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (not found|(\S+) \(0x[0-9a-f]+\))", line)
        if m:
            libs.append((m.group(1), m.group(3)))
        else:
            m = re.match(r"\s*(/\S+) \(0x[0-9a-f]+\)", line)  # the loader itself
            if m:
                libs.append((os.path.basename(m.group(1)), m.group(1)))
    return libs


def path_names(path):
    """The names a library may have in the dpkg database (merged /usr: with and without the /usr prefix)."""
    names = []
    for p in (path, os.path.realpath(path)):
        names += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    return names


def owners(paths):
    """path -> the package that ships it, for each path dpkg knows (one `dpkg -S` call)."""
    out = subprocess.run(["dpkg", "-S"] + sorted(set(paths)), capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        if line.startswith("diversion "):
            continue
        packages, _, path = line.partition(": ")
        table[path.strip()] = packages.split(",")[0].split(":")[0].strip()
    return table


def missing_libraries(dockerfile, deb, binaries):
    """Human-readable problems; empty when the runtime stage provides every library of every binary."""
    arguments = runtime_install_arguments(dockerfile_instructions(dockerfile))
    problems = []
    database = Database()
    # apt-get installs a virtual package's provider (libspdlog1.10-fmt9 is libspdlog1.10).
    roots = database.relation_names(", ".join(a for a in arguments if not a.endswith(".deb")))
    if any(a.endswith(".deb") for a in arguments):
        if deb is None:
            return ["the runtime stage installs a .deb: give it with --deb"]
        roots += database.relation_names(deb_depends(deb))
    available = database.closure(roots)
    libraries = {binary: shared_libraries(binary) for binary in binaries}
    shipped_by = owners(n for libs in libraries.values() for _, path in libs if path for n in path_names(path))
    for binary, libs in libraries.items():
        for soname, path in libs:
            if path is None:
                problems.append(f"{binary}: {soname} not found by the loader here")
                continue
            package = next((shipped_by[n] for n in path_names(path) if n in shipped_by), None)
            if package is None:
                problems.append(f"{binary}: {soname} ({path}) is provided by no package")
            elif package not in available:
                problems.append(f"{binary}: {soname} comes from {package}, which the runtime stage does not "
                                f"install (it installs {' '.join(arguments)})")
    return problems


def report(what, problems):
    """Prints the problems and a summary line; returns the exit status."""
    for p in problems:
        print("FAIL:", p)
    print(f"{what}:", "OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dockerfile")
    parser.add_argument("--deb", help="the project's package, which a *.deb argument of apt-get install names")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    return report("runtime libraries", missing_libraries(args.dockerfile, args.deb, args.binaries))


if __name__ == "__main__":
    sys.exit(main())
