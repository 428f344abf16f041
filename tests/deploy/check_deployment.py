#!/usr/bin/env python3
"""Static checks of packaging/Dockerfile and deploy/kubernetes/*.yaml against the pd-proxy binary and CI, of
scripts/demo.sh's build against CI's, and of the README's dependency list against scripts/install-deps.sh.

Standard library only (no PyYAML): the manifests are parsed by a small reader of the YAML they use (block
mappings and sequences, flow sequences written as JSON, `|` block scalars, comments, `---`); the TOML they
carry by tomllib. Usage: check_deployment.py SOURCE_DIR PD_PROXY_BINARY
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib

import check_runtime_libs

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


# --- a reader of the YAML subset the manifests use ---------------------------------------------------------

def strip_comment(text):
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def scalar(text):
    text = strip_comment(text).strip()
    if text.startswith("[") or text.startswith('"'):
        return json.loads(text)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~", ""):
        return None
    return text


class Reader:
    def __init__(self, text):
        self.lines = text.split("\n")
        self.i = 0

    def next_significant(self):
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() and not line.strip().startswith("#"):
                return len(line) - len(line.lstrip(" ")), line.strip()
            self.i += 1
        return None

    def block(self, indent):
        nxt = self.next_significant()
        if nxt is None or nxt[0] < indent:
            return None
        if nxt[1] == "-" or nxt[1].startswith("- "):
            return self.sequence(nxt[0])
        return self.mapping(nxt[0])

    def mapping(self, indent):
        out = {}
        while True:
            nxt = self.next_significant()
            if nxt is None or nxt[0] != indent or nxt[1].startswith("- "):
                return out
            content = nxt[1]
            key, sep, rest = content.partition(":")
            if not sep:
                raise ValueError(f"line {self.i + 1}: expected 'key: value': {content}")
            key = key.strip().strip('"')
            rest = rest.strip()
            self.i += 1
            if rest in ("|", "|-"):
                out[key] = self.block_scalar(indent)
            elif strip_comment(rest) == "":
                out[key] = self.block(indent + 1)
            else:
                out[key] = scalar(rest)

    def sequence(self, indent):
        out = []
        while True:
            nxt = self.next_significant()
            if nxt is None or nxt[0] != indent or not (nxt[1] == "-" or nxt[1].startswith("- ")):
                return out
            content = nxt[1][1:].strip()
            if not content:
                self.i += 1
                out.append(self.block(indent + 1))
            elif re.match(r"^[\w.\-/\"]+:( |$)", content):
                # "- key: value" opens a mapping whose keys sit two columns right of the dash.
                self.lines[self.i] = " " * (indent + 2) + content
                out.append(self.mapping(indent + 2))
            else:
                self.i += 1
                out.append(scalar(content))

    def block_scalar(self, indent):
        lines = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            lines.append(line)
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        margin = min((len(l) - len(l.lstrip(" ")) for l in lines if l.strip()), default=0)
        return "\n".join(l[margin:] for l in lines) + "\n"


def parse_yaml(text):
    docs = []
    for chunk in re.split(r"^---[ \t]*$", text, flags=re.M):
        doc = Reader(chunk).block(0)
        if doc is not None:
            docs.append(doc)
    return docs


# --- what the binary offers -------------------------------------------------------------------------------

def binary_flags(binary):
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^  (?:-\w,)?(--[a-z0-9][a-z0-9-]*)", help_text, flags=re.M))


def check_toml_keys(toml_text, flags, binary, what):
    """Every key is a flag; the whole file passes --check-config when the binary knows every key."""
    settings = tomllib.loads(toml_text)
    unknown = [k for k in settings if "--" + k.replace("_", "-") not in flags]
    # The DNS discovery flags come with run-time pools (issue 12): until that branch is merged the binary
    # does not know them yet, and only they may be missing.
    pending = {"prefiller-dns", "decoder-dns", "dns-refresh-interval"}
    check(set(unknown) <= pending, f"{what}: keys that are not pd-proxy flags: {unknown}")
    if not unknown:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(toml_text)
        try:
            r = subprocess.run([binary, "--check-config", "--config", f.name], capture_output=True, text=True)
            check(r.returncode == 0, f"{what}: --check-config failed: {r.stderr.strip()}")
        finally:
            os.unlink(f.name)
    elif unknown:
        print(f"note: {what}: --check-config skipped, the binary lacks {sorted(unknown)} (pools branch)")
    return settings


# --- the Dockerfile ----------------------------------------------------------------------------------------

def ci_configure_and_build(source):
    """The cmake commands scripts/test.sh runs for its main build directory."""
    text = open(os.path.join(source, "scripts/test.sh")).read()
    configure = re.search(r'^\s*cmake -S \. -B "\$dir" (.*) "\$@"$', text, flags=re.M)
    suite = re.search(r"^run_suite build (.*)$", text, flags=re.M)
    build = re.search(r'^\s*cmake --build "\$dir"(.*)$', text, flags=re.M)
    if not (check(configure and suite and build, "scripts/test.sh: cannot find run_suite's cmake commands")):
        return None, None
    return (f"cmake -S . -B build {configure.group(1)} {suite.group(1)}".split(),
            f"cmake --build build{build.group(1)}".replace('"$jobs"', "").split())


def check_dockerfile(source, flags, example_port, binary):
    path = os.path.join(source, "packaging/Dockerfile")
    text = re.sub(r"\\\n", " ", open(path).read())
    instructions = [l.strip() for l in text.split("\n") if l.strip() and not l.strip().startswith("#")]
    stages = [l for l in instructions if l.startswith("FROM ")]
    check(len(stages) >= 2, "Dockerfile: not multi-stage")
    check(all(re.match(r"FROM debian:bookworm-slim( AS \w+)?$", s) for s in stages),
          f"Dockerfile: every stage must be FROM debian:bookworm-slim: {stages}")
    final = instructions[max(i for i, l in enumerate(instructions) if l.startswith("FROM ")):]
    users = [l.split()[1] for l in final if l.startswith("USER ")]
    check(users and users[-1].split(":")[0] not in ("0", "root"), "Dockerfile: the final stage must run as non-root")
    check("STOPSIGNAL SIGTERM" in final, "Dockerfile: STOPSIGNAL SIGTERM missing")
    exposed = [int(p) for l in final if l.startswith("EXPOSE ") for p in l.split()[1:]]
    check(exposed == [example_port], f"Dockerfile: EXPOSE {exposed}, the example config listens on {example_port}")
    health = [l for l in final if l.startswith("HEALTHCHECK ")]
    check(health and f"http://127.0.0.1:{example_port}/health" in health[0],
          f"Dockerfile: HEALTHCHECK must GET /health on port {example_port}")
    check(any("/etc/pd-proxy/pd-proxy.toml" in l for l in final if l.startswith(("CMD", "ENTRYPOINT"))),
          "Dockerfile: the command must read /etc/pd-proxy/pd-proxy.toml")
    installs_deb = check_runtime_packages(source, instructions, final, binary)
    check(installs_deb or any(l.startswith("COPY ") and l.endswith(" /etc/pd-proxy/pd-proxy.toml") for l in final),
          "Dockerfile: the example config must be at /etc/pd-proxy/ (from the .deb or a COPY)")
    for line in instructions:
        if line.startswith("COPY ") and "--from=" not in line:
            for src in shlex.split(line)[1:-1]:
                check(os.path.exists(os.path.join(source, src)), f"Dockerfile: COPY source {src} is not in the repository")
        if line.startswith(("CMD", "ENTRYPOINT")) and "[" in line:
            args = json.loads(line.split(None, 1)[1])
            for a in args:
                if a.startswith("--"):
                    check(a in flags, f"Dockerfile: {a} is not a pd-proxy flag")
    configure, build = ci_configure_and_build(source)
    runs = " && ".join(l[4:] for l in instructions if l.startswith("RUN "))
    commands = [c.split() for c in re.split(r"&&", runs)]
    if configure:
        check(configure in commands, f"Dockerfile: CI configures with `{' '.join(configure)}`; the build stage must too")
        check(any(c[:len(build)] == build for c in commands),
              f"Dockerfile: CI builds with `{' '.join(build)} -j N`; the build stage must too")
    check("scripts/install-deps.sh" in runs, "Dockerfile: dependencies must come from scripts/install-deps.sh")


def check_runtime_packages(source, instructions, final, binary):
    """The runtime stage gets its shared libraries from the project's .deb, whose Depends dpkg-shlibdeps derives
    from the binaries (scripts/package-check.sh runs check_runtime_libs.py on the built package), or from a
    package list that provides every library the build's pd-proxy loads. Returns whether it installs the .deb."""
    path = os.path.join(source, "packaging/Dockerfile")
    arguments = check_runtime_libs.runtime_install_arguments(final)
    debs = [a for a in arguments if a.endswith(".deb")]
    if not debs:
        for problem in check_runtime_libs.missing_libraries(path, None, [binary]):
            failures.append(f"Dockerfile: {problem}")
        return False
    build_runs = " && ".join(l[4:] for l in instructions[:len(instructions) - len(final)] if l.startswith("RUN "))
    check("cpack -G DEB" in build_runs, "Dockerfile: the runtime stage installs a .deb the build stage does not make")
    copies = [shlex.split(l) for l in final if l.startswith("COPY --from=")]
    check(all(any(c[-1] == d for c in copies) for d in debs),
          f"Dockerfile: the runtime stage installs {debs} without copying it from the build stage")
    return True


def check_runtime_check_catches_issue_20(source, binary):
    """The runtime stage of issue 20 (no libprometheus-cpp-core1.0) is reported by check_runtime_libs.py."""
    problems = check_runtime_libs.missing_libraries(os.path.join(source, "tests/deploy/issue20-runtime.Dockerfile"),
                                                    None, [binary])
    check(any("libprometheus-cpp-core" in p for p in problems),
          f"check_runtime_libs.py does not report issue 20's missing libprometheus-cpp-core: {problems}")


# --- the README's two commands and the hand build --------------------------------------------------------

def check_demo_build(source):
    """scripts/demo.sh builds in build/ with CI's flags for it, so that scripts/test.sh after it rebuilds nothing."""
    configure, _ = ci_configure_and_build(source)
    demo = open(os.path.join(source, "scripts/demo.sh")).read()
    lines = [l.split(">")[0].split() for l in demo.splitlines() if l.startswith("cmake -S ")]
    check(len(lines) == 1 and configure and sorted(lines[0]) == sorted(configure),
          f"scripts/demo.sh: configure build/ as scripts/test.sh does (`{' '.join(configure or [])}`), not {lines}")


def check_readme_dependencies(source):
    """Every package scripts/install-deps.sh installs is in the README's hand-build dependency list."""
    script = open(os.path.join(source, "scripts/install-deps.sh")).read()
    array = re.search(r"^packages=\((.*?)\)$", script, flags=re.M | re.S)
    if not check(array, "scripts/install-deps.sh: no packages=(...) array"):
        return
    wanted = {w for l in array.group(1).splitlines() for w in l.split("#")[0].split() if not w.startswith('"$')}
    readme = open(os.path.join(source, "README.md")).read()
    listed = re.search(r"^Dependencies \(Debian 12\):(.*?)\n\n", readme, flags=re.M | re.S)
    if check(listed, "README.md: no 'Dependencies (Debian 12):' paragraph"):
        names = set(re.findall(r"`([^`]+)`", listed.group(1)))
        names = {w for n in names for w in n.split()}
        check(wanted <= names, f"README.md: the dependency list lacks {sorted(wanted - names)}")


# --- Kubernetes --------------------------------------------------------------------------------------------

def check_probe(probe, path, port_name, port, what):
    if "httpGet" in probe:
        check(probe["httpGet"]["path"] == path, f"{what}: probe path {probe['httpGet']['path']}, expected {path}")
        check(probe["httpGet"]["port"] in (port_name, port), f"{what}: probe port {probe['httpGet']['port']}")
    else:
        command = " ".join(probe["exec"]["command"])
        check(f":{port}{path}" in command, f"{what}: probe `{command}` must reach {path} on port {port}")


def pod_proxy_container(pod, what):
    containers = [c for c in pod["containers"] if c["name"] == "pd-proxy"]
    check(len(containers) == 1, f"{what}: no container named pd-proxy")
    return containers[0] if containers else None


def check_proxy_pod(pod, config_map, settings, flags, what, sidecar):
    c = pod_proxy_container(pod, what)
    if c is None:
        return
    args = c.get("args", [])
    for a in args:
        if a.startswith("--"):
            check(a in flags, f"{what}: {a} is not a pd-proxy flag")
    check(args[:2] == ["--config", "/etc/pd-proxy/pd-proxy.toml"], f"{what}: args must start with --config /etc/pd-proxy/pd-proxy.toml")
    port = int(args[args.index("--port") + 1]) if "--port" in args else settings.get("port", 8000)
    host = args[args.index("--host") + 1] if "--host" in args else settings.get("host", "localhost")
    if sidecar:
        check(host == "127.0.0.1", f"{what}: a sidecar proxy listens on loopback")
    else:
        check(host in ("0.0.0.0", "::"), f"{what}: the proxy must listen on all interfaces, not {host}")
        ports = c.get("ports", [])
        check([p["containerPort"] for p in ports] == [port], f"{what}: containerPort must be the config's port {port}")
    port_name = c.get("ports", [{}])[0].get("name") if c.get("ports") else None
    check_probe(c["livenessProbe"], "/health", port_name, port, f"{what} liveness")
    check_probe(c["readinessProbe"], "/ready", port_name, port, f"{what} readiness")
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    check(len(pre_stop) == 2 and pre_stop[0] == "sleep", f"{what}: preStop must be a sleep")
    sleep = int(pre_stop[1]) if len(pre_stop) == 2 else 0
    drain = settings.get("drain-timeout", settings.get("shutdown-timeout", 30))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > sleep + drain, f"{what}: terminationGracePeriodSeconds {grace} must exceed preStop {sleep} + drain {drain}")
    mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/etc/pd-proxy"]
    check(len(mounts) == 1, f"{what}: the config must be mounted at /etc/pd-proxy")
    if mounts:
        volumes = [v for v in pod.get("volumes", []) if v["name"] == mounts[0]["name"]]
        check(volumes and volumes[0].get("configMap", {}).get("name") == config_map,
              f"{what}: /etc/pd-proxy must be the ConfigMap {config_map}")
    return port


def check_kubernetes(source, flags, binary):
    directory = os.path.join(source, "deploy/kubernetes")
    objects = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".yaml"):
            for doc in parse_yaml(open(os.path.join(directory, name)).read()):
                check("apiVersion" in doc and "kind" in doc and "name" in doc.get("metadata", {}),
                      f"{name}: an object without apiVersion, kind or metadata.name")
                objects.append((name, doc))
    by_kind = {}
    for name, doc in objects:
        by_kind.setdefault(doc["kind"], []).append((name, doc))
    maps = [d for _, d in by_kind.get("ConfigMap", [])]
    if not check(len(maps) == 1 and "pd-proxy.toml" in maps[0].get("data", {}), "kubernetes: one ConfigMap with pd-proxy.toml"):
        return
    config_map = maps[0]["metadata"]["name"]
    settings = check_toml_keys(maps[0]["data"]["pd-proxy.toml"], flags, binary, "configmap.yaml")
    check(any(k in settings for k in ("prefiller-dns", "decoder-dns")), "configmap.yaml: engines must be discovered by DNS")

    deployments = {n: d for n, d in by_kind.get("Deployment", [])}
    proxy = deployments.get("deployment.yaml")
    if not check(proxy is not None, "kubernetes: deployment.yaml has no Deployment"):
        return
    check(proxy["spec"]["replicas"] == 2, "deployment.yaml: replicas must be 2")
    labels = proxy["spec"]["template"]["metadata"]["labels"]
    check(proxy["spec"]["selector"]["matchLabels"].items() <= labels.items(), "deployment.yaml: selector does not match the pods")
    port = check_proxy_pod(proxy["spec"]["template"]["spec"], config_map, settings, flags, "deployment.yaml", False)
    container = pod_proxy_container(proxy["spec"]["template"]["spec"], "deployment.yaml")

    services = [d for _, d in by_kind.get("Service", [])]
    front = [s for s in services if s["spec"].get("selector", {}).items() <= labels.items() and s["spec"].get("clusterIP") != "None"]
    check(len(front) == 1, "kubernetes: one Service must select the pd-proxy pods")
    if front and container:
        names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for p in front[0]["spec"]["ports"]:
            target = p["targetPort"]
            check(names.get(target, target) == port, f"service.yaml: targetPort {target} is not the proxy's port {port}")
    headless = {s["metadata"]["name"] for s in services if s["spec"].get("clusterIP") == "None"}
    for key in ("prefiller-dns", "decoder-dns"):
        for entry in settings.get(key, []):
            check(entry.split(".")[0] in headless and re.search(r":\d+$", entry),
                  f"configmap.yaml: {key} {entry} must be NAME:PORT of a headless Service")

    pdbs = [d for _, d in by_kind.get("PodDisruptionBudget", [])]
    check(len(pdbs) == 1 and pdbs[0]["spec"]["selector"]["matchLabels"].items() <= labels.items(),
          "kubernetes: a PodDisruptionBudget must select the pd-proxy pods")
    if pdbs:
        check(pdbs[0]["spec"].get("minAvailable", 0) < proxy["spec"]["replicas"], "pdb.yaml: minAvailable must leave room for a disruption")

    sidecar = deployments.get("sidecar-example.yaml")
    if check(sidecar is not None, "kubernetes: sidecar-example.yaml has no Deployment"):
        pod = sidecar["spec"]["template"]["spec"]
        check(len(pod["containers"]) == 2, "sidecar-example.yaml: a client container next to pd-proxy")
        side_port = check_proxy_pod(pod, config_map, settings, flags, "sidecar-example.yaml", True)
        client = [c for c in pod["containers"] if c["name"] != "pd-proxy"]
        urls = [e["value"] for c in client for e in c.get("env", [])]
        check(any(f"http://127.0.0.1:{side_port}/" in u for u in urls), "sidecar-example.yaml: the client must use the sidecar on localhost")


def main():
    source, binary = sys.argv[1], sys.argv[2]
    flags = binary_flags(binary)
    check("--config" in flags and "--check-config" in flags, "the binary lacks --config/--check-config")
    example = check_toml_keys(open(os.path.join(source, "packaging/pd-proxy.toml")).read(), flags, binary, "packaging/pd-proxy.toml")
    check_dockerfile(source, flags, example.get("port", 8000), binary)
    check_runtime_check_catches_issue_20(source, binary)
    check_demo_build(source)
    check_readme_dependencies(source)
    check_kubernetes(source, flags, binary)
    return check_runtime_libs.report("deployment files", failures)


if __name__ == "__main__":
    sys.exit(main())
