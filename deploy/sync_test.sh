#!/usr/bin/env bash
# Test of the analysts' sync kit (deploy/sync_data.sh), run by CI from the
# repository root:
#
#   deploy/sync_test.sh
#
# It makes a fake server data directory with real Parquet partitions
# (`jiraduck demo`, offline: the emulator and serve on loopback), syncs it
# into a fake laptop folder and checks what a person relies on: the files
# arrive, a second run copies nothing, a changed partition is the only file
# copied, a month removed on the server disappears, the attachments switch,
# the views (analyst.duckdb with a duckdb CLI, views.sql without), the ssh
# transport with its retry, the first-run settings file and clear failures.
#
# rsync is installed with apt-get when missing and running as root (as in
# CI); otherwise the test is skipped. JIRADUCK_BIN=path reuses a built
# binary. Prints one line per check and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
sync=$repo/deploy/sync_data.sh

passed=0
failed=0
ok() {
  printf 'ok       %s\n' "$*"
  passed=$((passed + 1))
}
fail() {
  printf 'FAIL     %s\n' "$*"
  failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }
finish() {
  echo "sync_test took $((SECONDS - start)) s"
  echo "sync_test: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
start=$SECONDS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jiraduck-sync-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- the view the script carries ----------------------------------------------
# sync_data.sh runs where the source is not: it carries the statement of
# sql/view_jira_issue_field_history.sql, which must stay the same.
same_field_history_view() {
  diff <(sed -n "/^CREATE OR REPLACE VIEW jira_issue_field_history AS$/,/^SQL$/p" "$sync" | sed '$d') \
    <(sed -n '/^CREATE OR REPLACE VIEW/,$p' "$repo/sql/view_jira_issue_field_history.sql") >"$tmp/view.diff"
}
if same_field_history_view; then ok "jira_issue_field_history in sync_data.sh is sql/view_jira_issue_field_history.sql"
else fail "jira_issue_field_history in sync_data.sh differs from sql/view_jira_issue_field_history.sql"; head -20 "$tmp/view.diff"; fi

# ---- tools --------------------------------------------------------------------
if ! have rsync; then
  if [[ $(id -u) -eq 0 ]] && have apt-get; then
    echo "note: rsync missing, installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends rsync; } >"$tmp/apt.log" 2>&1; then
      tail -5 "$tmp/apt.log"
      fail "apt-get install rsync"
      finish
      exit 1
    fi
  else
    echo "skipped  sync_test: rsync is not installed (and not root to install it)"
    echo "sync_test: 0 passed, 0 failed, 1 skipped"
    exit 0
  fi
fi

if [[ -n ${JIRADUCK_BIN:-} ]]; then
  bin=$JIRADUCK_BIN
else
  bin=$tmp/jiraduck
  if ! CGO_ENABLED=1 go build -o "$bin" ./cmd/jiraduck >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"
    fail "go build ./cmd/jiraduck"
    finish
    exit 1
  fi
fi
cli=${JIRADUCK_DUCKDB:-duckdb}
have_cli=false
if [[ $cli != none ]] && have "$cli"; then have_cli=true; fi

# Everything below runs inside $tmp, so no .env file of the repository or of
# the caller's folder reaches jiraduck.
cd "$tmp"

# query DATA_DIR SQL: the last line of a one-value CSV answer of jiraduck
# query. "--" ends the flags: the SQL may start with a -- comment.
query() {
  local out
  if out=$(JIRADUCK_DATA_DIR=$1 "$bin" query --format csv -- "$2" 2>&1); then
    tail -n 1 <<<"$out"
  else
    printf '%s\n' "$out" | sed 's/^/         | /' >&2
    echo "(query failed)"
  fi
}

# ---- the fake server ------------------------------------------------------------
srv=$tmp/srv
if ! "$bin" demo --data-dir "$srv" --issues 50 --events 60 >"$tmp/demo.log" 2>&1; then
  cat "$tmp/demo.log"
  fail "jiraduck demo wrote a server data directory"
  finish
  exit 1
fi
nsrv=$(find "$srv/parquet/jira" -type f | wc -l)
check "jiraduck demo wrote a server data directory ($nsrv files)" test "$nsrv" -gt 10
# The group reads, only jiraduck writes: nothing the sync pulls from is
# group-writable or open to other accounts, even under this shell's umask.
loose=$(find "$srv" \( -perm /g+w -o -perm /o+rwx \) -print | head -n 3 | tr "\n" " ")
check "the server tree is 0750/0640: nothing group-writable or open to others${loose:+ (got: $loose)}" test -z "$loose"

# ---- first run: a settings file with defaults -----------------------------------
export JIRADUCK_SYNC_CONFIG=$tmp/config/first/sync.yaml
if out=$("$sync" 2>&1) && [[ -f $JIRADUCK_SYNC_CONFIG ]] && grep -q "edit 'remote'" <<<"$out"; then
  ok "first run writes $JIRADUCK_SYNC_CONFIG, says what to edit, exits 0"
else
  fail "first run writes a settings file: $out"
fi
check "default settings: remote, target ./server, jira true, attachments false" \
  grep -qzE 'remote: user@host:/var/lib/jiraduck/data.*target: \./server.*datasets:.*  jira: true.*  jira_attachments: false' "$JIRADUCK_SYNC_CONFIG"
if out=$("$sync" 2>&1); then
  fail "a second run with the untouched example remote should fail"
else
  check "a run with the untouched example remote fails and says so" grep -q "still the example" <<<"$out"
fi

# ---- the laptop -------------------------------------------------------------------
laptop=$tmp/laptop
mkdir -p "$laptop"
cd "$laptop"
target=$laptop/server
export JIRADUCK_SYNC_CONFIG=$tmp/config/sync.yaml
# write_config ATTACHMENTS [REMOTE] [TARGET]: quotes, comments and Windows
# line ends, as a hand-edited file may have.
write_config() {
  mkdir -p "$(dirname "$JIRADUCK_SYNC_CONFIG")"
  printf '%s\r\n' \
    "# written by the test" \
    "remote: \"${2:-$srv}\"   # the fake server" \
    "target: '${3:-./server}'" \
    "" \
    "datasets:" \
    "  jira: yes" \
    "  jira_attachments: $1  # switch" >"$JIRADUCK_SYNC_CONFIG"
}
# run NAME: one sync, output in $tmp/NAME.out; fails the check on a bad exit.
run() {
  if "$sync" >"$tmp/$1.out" 2>&1; then
    return 0
  fi
  sed 's/^/         | /' "$tmp/$1.out"
  return 1
}
transferred() { sed -n 's/^ *Number of regular files transferred: *\([0-9,]*\).*/\1/p' "$tmp/$1.out" | head -n 1 | tr -d ','; }

write_config false
check "run 1 (everything new) exits 0" run run1
n1=$(transferred run1)
check "run 1 transferred every server file ($n1 of $nsrv)" test "${n1:-x}" = "$nsrv"
check "run 1: the copy is identical to the server's parquet/jira" diff -r "$srv/parquet/jira" "$target/parquet/jira"
check "run 1 prints a summary with files, bytes and duration" \
  grep -qE '^sync done in [0-9]+s: [0-9]+ files transferred \(.* of file data' "$tmp/run1.out"
check "attachments off: no attachments folder" test ! -e "$target/attachments"

check "run 2 (nothing changed) exits 0" run run2
check "run 2 transferred nothing" grep -q "Number of regular files transferred: 0" "$tmp/run2.out"

touched=$(find "$srv/parquet/jira/issues" -name data.parquet | sort | head -n 1)
touch -d '2001-02-03 04:05:06' "$touched"
check "run 3 (one partition touched on the server) exits 0" run run3
check "run 3 transferred exactly that one file" test "$(transferred run3)" = 1
rel=${touched#"$srv"/}
check "run 3: the local copy has the server's new mtime" test "$(stat -c %Y "$touched")" = "$(stat -c %Y "$target/$rel")"

gone_month=$(find "$srv/parquet/jira/changelog" -mindepth 1 -maxdepth 1 -name 'month=*' | sort | head -n 1)
rm -rf "$gone_month" "$srv/parquet/jira/remote_links"
check "run 4 (a month and a whole table removed on the server) exits 0" run run4
check "run 4: the removed month is gone from the copy" test ! -e "$target/${gone_month#"$srv"/}"
check "run 4: the removed table's partitions are gone from the copy" \
  test -z "$(find "$target/parquet/jira/remote_links" -name '*.parquet' 2>/dev/null)"
check "run 4: the copy is identical to the server's again" diff -r "$srv/parquet/jira" "$target/parquet/jira"
check "run 4: a note says jira_remote_links has no view" grep -q "no view jira_remote_links" "$tmp/run4.out"

# ---- views ------------------------------------------------------------------------
views=$target/views.sql
check "views.sql exists" test -f "$views"
no_view() { ! grep -q "CREATE OR REPLACE VIEW $1 " "$views"; }
check "views.sql has no view over the emptied table" no_view jira_remote_links
# Every other view is the statement of sql/view_<name>.sql with {{root}} set
# and the site column the server's views add: the demo's site is "demo",
# which manifest.json carries.
root=$(cd "$target/parquet/jira" && pwd -P)
check "manifest.json names the demo's site" grep -qx '  "site": "demo",' "$root/manifest.json"
same=true
for f in "$repo"/sql/view_*.sql; do
  name=$(basename "$f" .sql)
  name=${name#view_}
  [[ $name == jira_remote_links ]] && continue
  while IFS= read -r line; do
    grep -qxF "$line" "$views" || {
      echo "         | missing from views.sql: $line"
      same=false
    }
  done < <(grep -v '^--' "$f" | sed -e "s|{{root}}|$root|g" -e "s|^SELECT \* FROM read_parquet|SELECT *, 'demo' AS site FROM read_parquet|")
done
check "views.sql statements are those of sql/view_*.sql" test "$same" = true

want_issues=$(query "$srv" "SELECT count(*) FROM jira_issues")
want_comments=$(query "$srv" "SELECT count(*) FROM jira_comments")
if [[ $have_cli == true ]]; then
  check "analyst.duckdb exists (duckdb CLI: $cli)" test -f "$target/analyst.duckdb"
  got=$("$cli" -readonly -csv -noheader "$target/analyst.duckdb" -c "SELECT count(*) FROM jira_issues" 2>&1 | tail -n 1)
  check "analyst.duckdb: jira_issues has the server's $want_issues rows (got $got)" test "$got" = "$want_issues"
else
  no_db() { test ! -e "$target/analyst.duckdb" && grep -q "duckdb -init" "$tmp/run1.out"; }
  check "no duckdb CLI: no analyst.duckdb, and run 1 said how to load views.sql" no_db
  # jiraduck query runs read statements only, so it cannot load views.sql's
  # CREATE VIEW statements: it runs the body of each view instead, on the
  # copy (the folder query is confined to).
  body_of() { grep -A1 -x "CREATE OR REPLACE VIEW $1 AS" "$views" | tail -n 1 | sed 's/;[[:space:]]*$//'; }
  got=$(query "$target" "SELECT (SELECT count(*) FROM ($(body_of jira_issues))) || '/' || (SELECT count(*) FROM ($(body_of jira_comments)))")
  check "views.sql's views read the copy (issues/comments $got, server $want_issues/$want_comments)" \
    test "$got" = "$want_issues/$want_comments"
fi
got=$(query "$target" "SELECT count(*) FROM jira_issues")
check "jiraduck query with JIRADUCK_DATA_DIR=<target> reads the copy ($got issues)" test "$got" = "$want_issues"

# ---- attachments ------------------------------------------------------------------
write_config true
check "run 5 (attachments on) exits 0" run run5
if [[ -d $srv/attachments ]]; then
  check "run 5: the attachments arrived" diff -r "$srv/attachments" "$target/attachments"
else
  check "run 5: a server without attachments/ is fine" test ! -e "$target/attachments"
fi
missing=0
while IFS= read -r p; do
  [[ -f $target/$p ]] || {
    echo "         | $p: no such file"
    missing=$((missing + 1))
  }
done < <(JIRADUCK_DATA_DIR=$target "$bin" query --format csv -- \
  "SELECT local_path FROM jira_attachments WHERE local_path IS NOT NULL" | tail -n +2)
check "every jira_attachments.local_path exists under the target" test "$missing" = 0
if [[ -d $srv/attachments ]]; then
  dropped=$(find "$srv/attachments" -type f | sort | head -n 1)
  rm -f "$dropped"
  check "run 5b (one attachment file removed on the server) exits 0" run run5b
  check "run 5b: the removed attachment file is gone from the copy" test ! -e "$target/${dropped#"$srv"/}"
fi

# ---- example queries ----------------------------------------------------------------
# Every documented example (sql/example_*.sql) must run on a synced copy.
for f in "$repo"/sql/example_*.sql; do
  name=sql/${f##*/}
  if JIRADUCK_DATA_DIR=$target "$bin" query --format csv -- "$(cat "$f")" >"$tmp/example.out" 2>&1; then
    ok "$name runs on the copy ($(($(wc -l <"$tmp/example.out") - 1)) rows)"
  else
    sed 's/^/         | /' "$tmp/example.out"
    fail "$name runs on the copy"
  fi
done

write_config off
check "run 6 (attachments off again) exits 0" run run6
if [[ -d $srv/attachments ]]; then
  kept() { test -d "$target/attachments" && grep -q "jira_attachments is false" "$tmp/run6.out"; }
  check "run 6: the copied attachments stay, with a note" kept
fi

# ---- ssh transport, with one failed connection ---------------------------------
# A stand-in ssh runs the remote command here; its first call fails the way an
# unreachable host does (exit 255), which the script must retry.
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/ssh" <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"$FAKE_SSH_LOG"
if [[ ! -e $FAKE_SSH_LOG.failed ]]; then
  : >"$FAKE_SSH_LOG.failed"
  echo "ssh: connect to host fakehost port 22: Connection refused" >&2
  exit 255
fi
while [[ $# -gt 0 ]]; do
  case $1 in
  -o | -l | -p) shift 2 ;;
  -*) shift ;;
  *) break ;;
  esac
done
shift # the host
exec sh -c "$*"
EOF
chmod +x "$tmp/fakebin/ssh"
write_config false "analyst@fakehost:$srv" ./server-ssh
export FAKE_SSH_LOG=$tmp/ssh.log
if PATH=$tmp/fakebin:$PATH JIRADUCK_SYNC_RETRY_DELAY=1 "$sync" >"$tmp/ssh.out" 2>&1; then
  ok "ssh remote: exits 0 after one refused connection"
else
  sed 's/^/         | /' "$tmp/ssh.out"
  fail "ssh remote: exits 0 after one refused connection"
fi
check "ssh remote: the retry was announced" grep -q "trying again in 1s (2 of 3)" "$tmp/ssh.out"
check "ssh remote: the copy is identical to the server's" diff -r "$srv/parquet/jira" "$laptop/server-ssh/parquet/jira"
check "ssh remote: ConnectTimeout and ServerAliveInterval passed to ssh" \
  grep -q "ConnectTimeout=.*ServerAliveInterval=" "$FAKE_SSH_LOG"
check "ssh remote: compression on" grep -qE -- "--server .*-[a-zA-Z.]*z" "$FAKE_SSH_LOG"

# ---- failures ---------------------------------------------------------------------
write_config false "$tmp/no-such-server"
if out=$("$sync" 2>&1); then
  fail "a missing remote folder fails"
else
  check "a missing remote folder fails with a clear message" grep -q "is not a folder on this machine" <<<"$out"
fi
printf 'remote: %s\ndatasets\n' "$srv" >"$JIRADUCK_SYNC_CONFIG"
if out=$("$sync" 2>&1); then
  fail "a malformed settings file fails"
else
  check "a malformed settings file fails naming the line" grep -q "sync.yaml:2: expected \"key: value\"" <<<"$out"
fi
printf 'remote: %s\ndatasets:\n  jira: maybe\n' "$srv" >"$JIRADUCK_SYNC_CONFIG"
if out=$("$sync" 2>&1); then
  fail "a non-boolean dataset switch fails"
else
  check "a non-boolean dataset switch fails naming the setting" grep -q "datasets.jira must be true or false" <<<"$out"
fi

finish
