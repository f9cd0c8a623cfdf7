#!/usr/bin/env bash
# Checks of the deploy kit, run by CI from the repository root:
#
#   deploy/check.sh
#
# Prints one line per check: "ok", "skipped" (with the reason) or "FAIL",
# and exits 1 if anything failed. Optional tools (docker, nginx, caddy and
# the shell linter) are used when installed and skipped otherwise; only
# systemd (for systemd-analyze) is installed with apt-get when missing, and
# only when running as root. JIRADUCK_BIN=path reuses a built binary instead of
# building one (the build takes a few seconds with a warm Go cache).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
report() { printf '%-8s %-20s %s\n' "$1" "$2" "$3"; }
ok() { report ok "$1" "$2"; }
skip() { report skipped "$1" "$2"; }
fail() {
  report FAIL "$1" "$2"
  failures=$((failures + 1))
}
# indent prints a command's output under the report line that failed.
indent() { sed 's/^/         | /'; }
have() { command -v "$1" >/dev/null 2>&1; }

unit=deploy/systemd/jiraduck.service
sysusers=deploy/systemd/jiraduck.sysusers
tmpfiles=deploy/systemd/jiraduck.tmpfiles
dockerfile=deploy/Dockerfile
dockerignore=deploy/Dockerfile.dockerignore
envexample=deploy/jiraduck.env.example
compose=deploy/compose.yaml
nginxconf=deploy/nginx/jiraduck.conf.example
caddyfile=deploy/caddy/Caddyfile.example
configdoc=docs/configuration.md

# ---- binary -------------------------------------------------------------------
# A real binary lets systemd-analyze verify the unit's ExecStart and lets the
# env example go through jiraduck's own settings loader.
bin=""
check_binary() {
  if [[ -n ${JIRADUCK_BIN:-} ]]; then
    if [[ -x $JIRADUCK_BIN ]]; then
      bin=$JIRADUCK_BIN
      ok binary "using JIRADUCK_BIN=$JIRADUCK_BIN"
    else
      fail binary "JIRADUCK_BIN=$JIRADUCK_BIN is not an executable"
    fi
    return
  fi
  if ! have go; then
    skip binary "go not installed: unit verified against /bin/true, env example not loaded"
    return
  fi
  local start=$SECONDS
  if CGO_ENABLED=1 go build -o "$tmp/jiraduck" ./cmd/jiraduck >"$tmp/build.log" 2>&1; then
    bin=$tmp/jiraduck
    ok binary "go build ./cmd/jiraduck ($((SECONDS - start)) s)"
  else
    fail binary "go build ./cmd/jiraduck failed"
    indent <"$tmp/build.log"
  fi
}

# ---- (a) systemd --------------------------------------------------------------
ensure_systemd_analyze() {
  have systemd-analyze && return 0
  if [[ $(id -u) -eq 0 ]] && have apt-get; then
    echo "note: systemd-analyze missing, installing the systemd package with apt-get" >&2
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$tmp/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >>"$tmp/apt.log" 2>&1; then
      have systemd-analyze && return 0
      echo "note: systemd installed, but systemd-analyze is still not on PATH" >&2
    else
      echo "note: apt-get install systemd failed:" >&2
      tail -5 "$tmp/apt.log" | indent >&2
    fi
  fi
  return 1
}

# check_unit_keys is the fallback when systemd-analyze cannot run: the keys
# the deployment relies on must be present with the expected values.
check_unit_keys() {
  local missing=()
  local want=(
    '^ExecStart=/usr/local/bin/jiraduck serve$'
    '^User=jiraduck$' '^Group=data-ops$' '^UMask=0027$'
    '^WorkingDirectory=/var/lib/jiraduck$'
    '^EnvironmentFile=/etc/jiraduck/jiraduck.env$'
    '^Environment=JIRADUCK_DATA_DIR=/var/lib/jiraduck/data$'
    '^ReadWritePaths=/var/lib/jiraduck/data$'
    '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^PrivateTmp=yes$' '^ProtectHome=yes$'
    '^ProtectKernelTunables=yes$' '^ProtectKernelModules=yes$' '^ProtectKernelLogs=yes$'
    '^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$' '^LockPersonality=yes$'
    '^CapabilityBoundingSet=$' '^Restart=on-failure$' '^RestartSec=' '^TimeoutStopSec=120s$'
    '^KillSignal=SIGTERM$' '^LimitNOFILE=' '^\[Unit\]$' '^\[Service\]$' '^\[Install\]$'
  )
  local re
  for re in "${want[@]}"; do
    grep -Eq "$re" "$unit" || missing+=("$re")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    fail systemd-unit "fallback key check: missing ${missing[*]}"
  else
    ok systemd-unit "systemd-analyze unavailable; fallback check: ${#want[@]} required keys present"
  fi
}

check_systemd() {
  if ! ensure_systemd_analyze; then
    check_unit_keys
    skip systemd-security "systemd-analyze unavailable"
    return
  fi
  # verify insists that ExecStart exists: point a copy of the unit at a
  # binary that does.
  local exe=${bin:-/bin/true}
  mkdir -p "$tmp/unit"
  sed "s#^ExecStart=/usr/local/bin/jiraduck#ExecStart=$exe#" "$unit" >"$tmp/unit/jiraduck.service"
  local rc=0
  systemd-analyze verify "$tmp/unit/jiraduck.service" >"$tmp/verify.log" 2>&1 || rc=$?
  # verify exits 0 on unknown keys and bad values; its messages name the file.
  if grep -q 'jiraduck\.service' "$tmp/verify.log"; then
    fail systemd-verify "systemd-analyze verify reported problems in $unit:"
    indent <"$tmp/verify.log"
  elif [[ $rc -ne 0 ]]; then
    echo "note: systemd-analyze verify could not run here (exit $rc):" >&2
    indent <"$tmp/verify.log" >&2
    check_unit_keys
  else
    ok systemd-verify "systemd-analyze verify $unit (ExecStart=$exe)"
  fi

  # Exposure score of the sandboxing: fail if a change weakens it past 2.0.
  local score
  rc=0
  systemd-analyze security --offline=true --threshold=20 --no-pager \
    "$tmp/unit/jiraduck.service" >"$tmp/security.log" 2>&1 || rc=$?
  score=$(grep -o 'Overall exposure level[^:]*: [0-9.]*' "$tmp/security.log" | grep -o '[0-9.]*$' || true)
  if [[ -z $score ]]; then
    skip systemd-security "systemd-analyze security --offline not supported here"
  elif [[ $rc -ne 0 ]]; then
    fail systemd-security "exposure level $score is above 2.0"
  else
    ok systemd-security "exposure level $score (threshold 2.0)"
  fi
}

check_sysusers_tmpfiles() {
  if ! have systemd-sysusers || ! have systemd-tmpfiles; then
    skip sysusers-tmpfiles "systemd-sysusers/systemd-tmpfiles not installed"
    return
  fi
  local root=$tmp/root
  mkdir -p "$root/etc"
  if ! systemd-sysusers --root="$root" - <"$sysusers" >"$tmp/sysusers.log" 2>&1; then
    fail sysusers-tmpfiles "systemd-sysusers rejected $sysusers:"
    indent <"$tmp/sysusers.log"
    return
  fi
  if ! systemd-tmpfiles --root="$root" --create - <"$tmpfiles" >"$tmp/tmpfiles.log" 2>&1; then
    fail sysusers-tmpfiles "systemd-tmpfiles rejected $tmpfiles:"
    indent <"$tmp/tmpfiles.log"
    return
  fi
  local uid gid
  uid=$(awk -F: '$1 == "jiraduck" { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: '$1 == "data-ops" { print $3 }' "$root/etc/group")
  local primary
  primary=$(awk -F: '$1 == "jiraduck" { print $4 }' "$root/etc/passwd")
  local got want
  got=$(stat -c '%a %u %g' "$root/var/lib/jiraduck" "$root/var/lib/jiraduck/data" | tr '\n' ' ')
  want="750 $uid $gid 750 $uid $gid "
  if [[ -z $uid || -z $gid || $primary != "$gid" ]]; then
    fail sysusers-tmpfiles "user jiraduck with primary group data-ops not created"
  elif [[ $got != "$want" ]]; then
    fail sysusers-tmpfiles "directories: got '$got', want '$want'"
  else
    ok sysusers-tmpfiles "user jiraduck:data-ops, /var/lib/jiraduck 0750, data 0750 (in a scratch root)"
  fi
}

# The data directory is named in four files; they must agree.
check_data_dir() {
  local dir=/var/lib/jiraduck/data bad=()
  grep -qx "ReadWritePaths=$dir" "$unit" || bad+=("$unit ReadWritePaths")
  grep -qx "Environment=JIRADUCK_DATA_DIR=$dir" "$unit" || bad+=("$unit Environment")
  grep -Eq "^d +$dir +0750 +jiraduck +data-ops" "$tmpfiles" || bad+=("$tmpfiles")
  grep -qx "JIRADUCK_DATA_DIR=$dir" "$envexample" || bad+=("$envexample")
  if [[ ${#bad[@]} -gt 0 ]]; then
    fail data-dir "$dir not set consistently in: ${bad[*]}"
  else
    ok data-dir "$dir agrees in unit, tmpfiles and env example"
  fi
}

# ---- (b) Docker ---------------------------------------------------------------
check_docker() {
  if have docker && docker info >/dev/null 2>&1; then
    if docker build -q -f "$dockerfile" -t jiraduck:deploy-check . >"$tmp/docker.log" 2>&1 &&
      docker run --rm jiraduck:deploy-check version >>"$tmp/docker.log" 2>&1; then
      ok docker-build "docker build -f $dockerfile . and jiraduck version in the image"
    else
      fail docker-build "docker build or run failed:"
      tail -20 "$tmp/docker.log" | indent
    fi
    return
  fi
  if ! have python3; then
    skip dockerfile "no Docker engine and no python3 for the static check"
    return
  fi
  local out
  if out=$(python3 - "$dockerfile" "$dockerignore" go.mod <<'PY'
import fnmatch, json, os, re, sys

dockerfile, ignore, gomod = sys.argv[1:4]
text = open(dockerfile).read()
# Join continuation lines, drop comments.
lines, cur = [], ""
for raw in text.splitlines():
    s = raw.strip()
    if not cur and (not s or s.startswith("#")):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append((cur + s).strip())
    cur = ""
problems = []
instr = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]

stages = set()
froms = [a for i, a in instr if i == "FROM"]
if not froms:
    problems.append("no FROM line")
for a in froms:
    parts = a.split()
    image = parts[0]
    if len(parts) >= 3 and parts[1].upper() == "AS":
        stages.add(parts[2])
    if image in stages:
        continue
    name, _, tag = image.rpartition(":")
    if "@sha256:" in image:
        continue
    if not name or "/" in tag or tag in ("", "latest"):
        problems.append(f"FROM {image} is not pinned to a tag")

# Build stage Go version must match go.mod's go line (major.minor).
m = re.search(r"^go (\d+\.\d+)", open(gomod).read(), re.M)
gos = [a.split()[0] for a in froms if a.startswith("golang:")]
if m and gos and not gos[0].startswith("golang:" + m.group(1)):
    problems.append(f"build image {gos[0]} does not match go.mod's go {m.group(1)}")

# Every COPY source (outside --from) exists and survives the ignore file.
allow = []
if os.path.exists(ignore):
    for l in open(ignore).read().splitlines():
        l = l.strip()
        if l and not l.startswith("#"):
            allow.append(l)
def ignored(path):
    # Docker's rule: the last matching pattern decides; "!" re-includes.
    verdict = False
    for p in allow:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.strip("/")
        if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat + "/*"):
            verdict = not neg
    return verdict
for i, a in instr:
    if i not in ("COPY", "ADD"):
        continue
    words = [w for w in a.split() if not w.startswith("--")]
    if any(w.startswith("--from") for w in a.split()):
        continue
    if a.startswith("["):
        words = json.loads(a)
    for src in words[:-1]:
        src = src.rstrip("/") or "."
        if src.startswith("./"):
            src = src[2:]
        if not os.path.exists(src):
            problems.append(f"{i} source {src} does not exist in the repository")
        elif ignored(src):
            problems.append(f"{i} source {src} is excluded by {ignore}")

users = [a for i, a in instr if i == "USER"]
if not users:
    problems.append("no USER line")
elif users[-1].split(":")[0] in ("root", "0"):
    problems.append("the final USER is root")
hc = [a for i, a in instr if i == "HEALTHCHECK"]
if not hc:
    problems.append("no HEALTHCHECK line")
else:
    m = re.search(r"CMD\s+(\[.*\])\s*$", hc[-1])
    if m:
        try:
            json.loads(m.group(1))
        except ValueError as e:
            problems.append(f"HEALTHCHECK exec form is not valid JSON: {e}")
for need in ("ENTRYPOINT", "CMD", "VOLUME", "EXPOSE"):
    if not any(i == need for i, _ in instr):
        problems.append(f"no {need} line")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"{len(froms)} FROM pinned, COPY sources present, USER {users[-1]}, HEALTHCHECK")
PY
  ); then
    ok dockerfile "no Docker engine (docker info failed); static check: $out"
  else
    fail dockerfile "$out"
  fi
}

# ---- (c) settings ------------------------------------------------------------
check_env_example() {
  if ! have python3; then
    skip env-example "python3 not installed"
    return
  fi
  local out
  if out=$(python3 - "$configdoc" "$envexample" "$compose" "$dockerfile" <<'PY'
import re, sys

doc, example, compose, dockerfile = sys.argv[1:5]
documented = []
for line in open(doc):
    if line.startswith("| `"):
        first = line.split("|")[1]
        documented += re.findall(r"`([A-Z][A-Z0-9_]*)`", first)
if not documented:
    print(f"no variables found in the table of {doc}")
    sys.exit(1)

problems, listed, seen = [], [], set()
lines = open(example).read().splitlines()
for n, line in enumerate(lines, 1):
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
    if not m:
        problems.append(f"line {n} is not KEY=value")
        continue
    key, value = m.groups()
    if key in seen:
        problems.append(f"{key} set twice")
    seen.add(key)
    listed.append(key)
    # One subset that systemd, docker --env-file and jiraduck's .env reader
    # all read the same way.
    if value != value.strip() or any(c in value for c in "\"'\\$`") or " #" in value:
        problems.append(f"{key}: keep the value unquoted, without $, \\ or a trailing comment")
    if n < 2 or not lines[n - 2].lstrip().startswith("#"):
        problems.append(f"{key} has no comment line above it")

missing = [v for v in documented if v not in seen]
unknown = [v for v in listed if v not in documented]
if missing:
    problems.append("missing: " + " ".join(missing))
if unknown:
    problems.append("not in " + doc + ": " + " ".join(unknown))

# Variables set in the compose file and the Dockerfile must be known too.
for path, pat in ((compose, r"^\s+([A-Z][A-Z0-9_]*):\s"), (dockerfile, r"\b(JIRA(?:DUCK)?_[A-Z0-9_]+)=")):
    for v in sorted(set(re.findall(pat, open(path).read(), re.M))):
        if v not in documented:
            problems.append(f"{path} sets {v}, not in {doc}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"{len(listed)} variables, same set as {doc}")
PY
  ); then
    ok env-example "$out"
  else
    fail env-example "$out"
  fi

  # The example must load as is: run jiraduck config on it in a scratch
  # directory (as ./.env, with an empty environment), and its variable list
  # must be the documented one.
  if [[ -z $bin ]]; then
    skip env-load "no jiraduck binary"
    return
  fi
  mkdir -p "$tmp/envload"
  cp "$envexample" "$tmp/envload/.env"
  if ! (cd "$tmp/envload" && env -i PATH=/usr/bin:/bin "$bin" config) >"$tmp/config.out" 2>&1; then
    fail env-load "jiraduck config refuses $envexample:"
    indent <"$tmp/config.out"
    return
  fi
  local out2
  if out2=$(python3 - "$configdoc" "$tmp/config.out" <<'PY'
import re, sys
doc, out = sys.argv[1:3]
documented = set()
for line in open(doc):
    if line.startswith("| `"):
        documented |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
effective = {}
for line in open(out):
    parts = line.rstrip("\n").split(None, 1)
    if parts:
        effective[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
problems = []
if set(effective) != documented:
    problems.append("jiraduck config lists " + " ".join(sorted(set(effective) - documented) or ["-"])
                    + " beyond the doc; the doc lists " + " ".join(sorted(documented - set(effective)) or ["-"])
                    + " beyond jiraduck config")
for v in ("JIRADUCK_SLA_POLL_SCHEDULE", "JIRADUCK_RECONCILE_SCHEDULE", "JIRADUCK_SNAPSHOT_SCHEDULE"):
    if not effective.get(v):
        problems.append(f"{v} is empty: the example would disable that job")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print("accepted by jiraduck config; schedules on; variables match the doc")
PY
  ); then
    ok env-load "$out2"
  else
    fail env-load "$out2"
  fi
}

# ---- (d) shell scripts --------------------------------------------------------
check_scripts() {
  local scripts=() f bad=()
  while IFS= read -r -d '' f; do scripts+=("$f"); done < <(find deploy -name '*.sh' -type f -print0 | sort -z)
  for f in "${scripts[@]}"; do
    bash -n "$f" 2>"$tmp/bashn.log" || {
      bad+=("$f")
      indent <"$tmp/bashn.log"
    }
    [[ -x $f ]] || bad+=("$f (not executable)")
  done
  if [[ ${#bad[@]} -gt 0 ]]; then
    fail bash-n "${bad[*]}"
  else
    ok bash-n "${scripts[*]}"
  fi
  if have shellcheck; then
    if shellcheck "${scripts[@]}" >"$tmp/shellcheck.log" 2>&1; then
      ok shellcheck "${#scripts[@]} scripts clean"
    else
      fail shellcheck "findings:"
      indent <"$tmp/shellcheck.log"
    fi
  else
    skip shellcheck "shellcheck not installed"
  fi
}

# ---- (e) reverse proxies ------------------------------------------------------
check_nginx() {
  if ! have nginx; then
    skip nginx "nginx not installed (not installed by CI on purpose)"
    return
  fi
  if ! have openssl; then
    skip nginx "openssl missing: cannot make the test certificate"
    return
  fi
  local d=$tmp/nginx
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
  sed -e "s#/etc/letsencrypt/live/jiraduck.example.com/fullchain.pem#$d/cert.pem#" \
    -e "s#/etc/letsencrypt/live/jiraduck.example.com/privkey.pem#$d/key.pem#" \
    "$nginxconf" >"$d/site.conf"
  cat >"$d/nginx.conf" <<EOF
pid $d/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    include $d/site.conf;
}
EOF
  if nginx -t -q -p "$d" -e stderr -c "$d/nginx.conf" >"$d/test.log" 2>&1; then
    ok nginx "nginx -t on $nginxconf (test certificate, scratch prefix)"
  else
    fail nginx "nginx -t rejected $nginxconf:"
    indent <"$d/test.log"
  fi
}

check_caddy() {
  if ! have caddy; then
    skip caddy "caddy not installed"
    return
  fi
  local d=$tmp/caddy
  mkdir -p "$d"
  if XDG_DATA_HOME=$d XDG_CONFIG_HOME=$d caddy validate --adapter caddyfile \
    --config "$caddyfile" >"$d/validate.log" 2>&1; then
    ok caddy "caddy validate on $caddyfile"
  else
    fail caddy "caddy validate rejected $caddyfile:"
    tail -5 "$d/validate.log" | indent
  fi
}

# ---- (f) compose --------------------------------------------------------------
check_compose() {
  if have docker && docker compose version >/dev/null 2>&1; then
    # config needs no engine: it parses, validates and interpolates.
    if docker compose -f "$compose" config -q >"$tmp/compose.log" 2>&1; then
      ok compose "docker compose config -q"
    else
      fail compose "docker compose config rejected $compose:"
      indent <"$tmp/compose.log"
    fi
    return
  fi
  if ! have python3; then
    skip compose "neither docker compose nor python3"
    return
  fi
  local out
  if out=$(python3 - "$compose" <<'PY'
import re, sys

path = sys.argv[1]
text = open(path).read()
problems = []
if "\t" in text:
    problems.append("tab characters (YAML indents with spaces)")
try:
    import yaml
except ImportError:
    yaml = None

if yaml:
    how = "PyYAML"
    doc = yaml.safe_load(text)
    services = doc.get("services") or {}
    for name in ("jira", "jiraduck"):
        if name not in services:
            problems.append(f"service {name} missing")
    if not problems:
        jira, jd = services["jira"], services["jiraduck"]
        cmd = jira.get("command") or []
        env = jd.get("environment") or {}
        if not cmd or cmd[0] != "emulator":
            problems.append("jira does not run the emulator")
        flags = dict(zip(cmd[1::2], cmd[2::2])) if cmd else {}
        if flags.get("--webhook-secret") != env.get("JIRA_WEBHOOK_SECRET"):
            problems.append("emulator --webhook-secret differs from jiraduck's JIRA_WEBHOOK_SECRET")
        if not str(flags.get("--webhook-url", "")).startswith("http://jiraduck:8080/"):
            problems.append("emulator --webhook-url does not point at the jiraduck service")
        if env.get("JIRA_BASE_URL") != "http://jira:9090":
            problems.append("jiraduck JIRA_BASE_URL is not http://jira:9090")
        for k in ("JIRA_EMAIL", "JIRA_API_TOKEN"):
            if (jira.get("environment") or {}).get(k) != env.get(k):
                problems.append(f"{k} differs between the services")
        if not any(str(v).endswith(":/data") for v in jd.get("volumes") or []):
            problems.append("jiraduck has no volume at /data")
        if not all(str(p).startswith("127.0.0.1:") for s in services.values() for p in s.get("ports") or []):
            problems.append("a port is published beyond 127.0.0.1")
else:
    # Without PyYAML: the structure only (top-level keys and service names).
    how = "structure only, PyYAML not installed"
    top = re.findall(r"^([A-Za-z0-9_.-]+):", text, re.M)
    for k in ("services", "volumes"):
        if k not in top:
            problems.append(f"no top-level {k}:")
    m = re.search(r"^services:\n((?:[ #].*\n|\n)*)", text, re.M)
    names = re.findall(r"^  ([A-Za-z0-9_.-]+):", m.group(1), re.M) if m else []
    for name in ("jira", "jiraduck"):
        if name not in names:
            problems.append(f"service {name} missing")
if problems:
    print("; ".join(problems))
    sys.exit(1)
print(f"services jira and jiraduck ({how})")
PY
  ); then
    ok compose "no docker compose; $out"
  else
    fail compose "$out"
  fi
}

start=$SECONDS
check_binary
check_systemd
check_sysusers_tmpfiles
check_data_dir
check_docker
check_env_example
check_scripts
check_nginx
check_caddy
check_compose

if [[ $failures -gt 0 ]]; then
  echo "deploy/check.sh: $failures check(s) failed ($((SECONDS - start)) s)"
  exit 1
fi
echo "deploy/check.sh: all checks passed ($((SECONDS - start)) s)"
