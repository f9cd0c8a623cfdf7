#!/usr/bin/env bash
# Copies the data a jiraduck server publishes to this machine and sets up
# DuckDB views over the copy: the analysts' side of jiraduck.
#
#   sync_data.sh            (from a terminal or from cron; no arguments)
#
# Settings live in ~/.config/jiraduck/sync.yaml, or in the file named by
# JIRADUCK_SYNC_CONFIG. The first run writes that file with defaults, says
# what to edit and stops. The file keeps the format of the Python data
# broker's sync settings:
#
#   remote: user@host:/var/lib/jiraduck/data   (ssh; or rsync://..., or a local folder)
#   target: ./server                           (relative to the folder the script runs in)
#   datasets:
#     jira: true                               (parquet/jira: every table, every month)
#     jira_attachments: false                  (attachments/: the stored files, can be large)
#
# What lands in the target folder:
#   parquet/jira/<table>/month=YYYY-MM/data.parquet and parquet/jira/manifest.json
#   attachments/<KEY>/<id>_<name>    when jira_attachments is true
#   views.sql                        CREATE VIEW statements over the copied files
#   analyst.duckdb                   a database holding those views (needs the duckdb CLI)
#
# rsync sends only the partitions whose size or modification time changed,
# keeps a half-received file out of sight (--partial-dir, --delay-updates:
# a DuckDB query never reads a half-copied partition) and removes the months
# the server removed. A failed transfer is tried 3 times in all, with growing
# pauses in between.
#
# Environment (all optional):
#   JIRADUCK_SYNC_CONFIG       the settings file
#   JIRADUCK_DUCKDB            the duckdb CLI to use (default: duckdb on PATH; "none": do not use one)
#   JIRADUCK_SYNC_TIMEOUT      seconds without data before rsync gives up (default 300)
#   JIRADUCK_SYNC_RETRY_DELAY  seconds before the first retry, doubled each time (default 10)
#   RSYNC                      the rsync program (default rsync)
#
# Exit codes: 0 ok (also after writing a first settings file), 1 failure, 2 usage.
set -euo pipefail

prog=${0##*/}
die() {
  echo "$prog: $*" >&2
  exit 1
}
note() { echo "note: $*"; }
warn() { echo "$prog: warning: $*" >&2; }

if [[ $# -gt 0 ]]; then
  case $1 in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $prog (no arguments; settings in ${JIRADUCK_SYNC_CONFIG:-~/.config/jiraduck/sync.yaml})" >&2
    exit 2
    ;;
  esac
fi

config=${JIRADUCK_SYNC_CONFIG:-${HOME:?HOME is not set}/.config/jiraduck/sync.yaml}
rsync_bin=${RSYNC:-rsync}
io_timeout=${JIRADUCK_SYNC_TIMEOUT:-300}
retry_delay=${JIRADUCK_SYNC_RETRY_DELAY:-10}
tries=3
example_remote="user@host:/var/lib/jiraduck/data"
tables=(issues comments attachments changelog issuelinks remote_links sla issue_fields worklogs inline_media issue_sprints issue_organizations)
# Dimension tables: one file each, <table>/data.parquet.
dim_tables=(projects users versions components statuses priorities issue_types resolutions issue_link_types fields boards sprints service_desks request_types organizations)

[[ $io_timeout =~ ^[0-9]+$ ]] || die "JIRADUCK_SYNC_TIMEOUT=$io_timeout is not a number of seconds"
[[ $retry_delay =~ ^[0-9]+$ ]] || die "JIRADUCK_SYNC_RETRY_DELAY=$retry_delay is not a number of seconds"

# ---- settings ------------------------------------------------------------------

write_default_config() {
  mkdir -p "$(dirname "$config")" || die "cannot create the folder of $config"
  cat >"$config" <<EOF || die "cannot write $config"
# jiraduck analyst sync: what deploy/sync_data.sh copies from the jiraduck server.
#
# remote: the server's data directory (JIRADUCK_DATA_DIR there), as
#   user@host:/path over ssh (set up key login first: ssh-copy-id user@host),
#   rsync://host/module/path for an rsync daemon, or a local folder.
remote: $example_remote
# target: where the copy goes on this machine. A relative path is taken from
#   the folder the script runs in; ~ means your home folder.
target: ./server
# datasets: what to copy (true or false).
datasets:
  # jira: the Parquet partitions of every table (parquet/jira/).
  jira: true
  # jira_attachments: the attachment files the server stored (attachments/).
  #   They can be large; jira_attachments.local_path names each file.
  jira_attachments: false
EOF
}

if [[ ! -e $config ]]; then
  write_default_config
  echo "created $config with the defaults."
  echo "edit 'remote' (the server and its data directory) and, if you like, 'target' and 'datasets', then run $prog again."
  exit 0
fi
[[ -f $config && -r $config ]] || die "cannot read $config"

# parse_config prints "key<TAB>value" per setting of the file: top-level keys as
# they are, keys under a section (datasets:) as section.key. It reads exactly
# this flat format: comments, blank lines, quoted or bare scalars, one level of
# nesting, Windows line ends. Anything else is an error naming the line.
parse_config() {
  awk '
    function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; exit 1 }
    {
      line = $0
      sub(/\r$/, "", line)
      if (line ~ /^[ \t]*(#.*)?$/) next
      if (line ~ /^ *\t/) fail("tab in indentation (use spaces)")
      match(line, /^ */)
      indent = RLENGTH
      rest = substr(line, indent + 1)
      if (!match(rest, /^[A-Za-z_][A-Za-z0-9_.-]*[ \t]*:/)) fail("expected \"key: value\"")
      key = substr(rest, 1, RLENGTH - 1)
      sub(/[ \t]+$/, "", key)
      val = substr(rest, RLENGTH + 1)
      if (val != "" && val !~ /^[ \t]/) fail("expected a space after \"" key ":\"")
      sub(/^[ \t]+/, "", val)
      q = substr(val, 1, 1)
      if (q == "\"" || q == "\047") {
        out = ""; closed = 0
        for (i = 2; i <= length(val); i++) {
          c = substr(val, i, 1)
          if (q == "\"" && c == "\\" && i < length(val)) { i++; out = out substr(val, i, 1); continue }
          if (c == q) {
            if (q == "\047" && substr(val, i + 1, 1) == "\047") { out = out c; i++; continue }
            closed = 1; break
          }
          out = out c
        }
        if (!closed) fail("unterminated quote")
        tail = substr(val, i + 1)
        if (tail !~ /^[ \t]*(#.*)?$/) fail("text after the closing quote")
        val = out
      } else {
        sub(/(^|[ \t]+)#.*$/, "", val)
        sub(/[ \t]+$/, "", val)
      }
      if (indent == 0) {
        section = ""
        if (val == "" && q != "\"" && q != "\047") { section = key; next }
        print key "\t" val
      } else {
        if (section == "") fail("indented line outside a section")
        print section "." key "\t" val
      }
    }
  ' "$1"
}

# bool turns a YAML boolean into true or false, or fails naming the setting.
bool() {
  case $(printf '%s' "$2" | tr '[:upper:]' '[:lower:]') in
  true | yes | on) echo true ;;
  false | no | off) echo false ;;
  *) die "$config: $1 must be true or false, not '$2'" ;;
  esac
}

remote="" target="./server" want_jira=true want_attachments=false
parsed=$(parse_config "$config") || die "cannot read the settings in $config (see the line above)"
while IFS=$'\t' read -r key val; do
  [[ -n $key ]] || continue
  case $key in
  remote) remote=$val ;;
  target) target=$val ;;
  datasets.jira) want_jira=$(bool "$key" "$val") ;;
  datasets.jira_attachments) want_attachments=$(bool "$key" "$val") ;;
  *) warn "$config: unknown setting '$key' ignored" ;;
  esac
done <<<"$parsed"

[[ -n $remote ]] || die "$config: 'remote' is not set (user@host:/var/lib/jiraduck/data or a local folder)"
[[ $remote != "$example_remote" ]] || die "$config: 'remote' is still the example ($example_remote); set it to your server"
[[ -n $target ]] || die "$config: 'target' is empty"
if [[ $want_jira == false && $want_attachments == false ]]; then
  die "$config: every dataset is false, nothing to copy"
fi

# expand_home turns a leading ~ into the home folder, as a shell would.
expand_home() {
  local tilde="~"
  case $1 in
  "$tilde") printf '%s\n' "$HOME" ;;
  "$tilde"/*) printf '%s\n' "$HOME/${1#"$tilde"/}" ;;
  *) printf '%s\n' "$1" ;;
  esac
}

# The kind of remote decides the transport: host:path and user@host:path are
# ssh, rsync://... and host::module are an rsync daemon, anything else is a
# folder on this machine (a mounted share, a test).
remote=${remote%/}
if [[ $remote == rsync://* || $remote =~ ^[^/]*:: ]]; then
  transport=daemon
elif [[ $remote =~ ^[^/]*: ]]; then
  transport=ssh
else
  transport=local
  remote=$(expand_home "$remote")
  [[ -d $remote ]] || die "remote $remote is not a folder on this machine"
  remote=$(cd "$remote" && pwd -P)
fi

command -v "$rsync_bin" >/dev/null 2>&1 ||
  die "$rsync_bin not found: install rsync (Debian/Ubuntu: apt-get install rsync; macOS: brew install rsync)"

target=$(expand_home "$target")
mkdir -p "$target" || die "cannot create the target folder $target"
target=$(cd "$target" && pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jiraduck-sync.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One sync at a time per target (cron and a person may start one together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$target/.sync.lock"
  flock -n 9 || die "another sync into $target is running"
fi

# ---- transfer ------------------------------------------------------------------

# --archive keeps modification times, which is what lets the next run skip
# every unchanged partition; owner and group of the server mean nothing here.
rsync_opts=(--archive --times --no-owner --no-group --stats
  --partial-dir=.rsync-partial --delay-updates --delete-after
  --timeout="$io_timeout")
case $transport in
ssh)
  ssh_cmd="ssh -o ConnectTimeout=20 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
  # No password prompt when nobody can answer it (cron).
  [[ -t 0 ]] || ssh_cmd+=" -o BatchMode=yes"
  rsync_opts+=(--compress -e "$ssh_cmd")
  ;;
daemon) rsync_opts+=(--compress --contimeout=20) ;;
esac

rsync_reason() {
  case $1 in
  1) echo "syntax or usage error" ;;
  2) echo "protocol incompatibility" ;;
  3) echo "errors selecting input/output files or folders" ;;
  5) echo "error starting the client-server protocol" ;;
  10) echo "error in socket I/O" ;;
  11) echo "error in file I/O" ;;
  12) echo "error in the rsync protocol data stream" ;;
  23) echo "partial transfer: some files could not be read or written" ;;
  24) echo "some files vanished on the server during the transfer" ;;
  30) echo "timeout in data send/receive" ;;
  35) echo "timeout waiting for the daemon connection" ;;
  255) echo "ssh failed (host unreachable, login refused or connection dropped)" ;;
  *) echo "rsync exit code $1" ;;
  esac
}

# stat_value prints the number after "<label>:" in an rsync --stats report
# (thousands separators removed), or 0 when the line is absent.
stat_value() {
  local v
  v=$(sed -n "s/^$1: *\([0-9][0-9,.]*\).*/\1/p" "$2" | head -n 1 | tr -d ',.')
  echo "${v:-0}"
}

total_files=0 total_bytes=0 total_wire=0 total_deleted=0

# transfer LABEL SOURCE DEST [rsync options...]: one rsync, tried up to $tries
# times on errors that a later attempt can cure (network, timeouts, files
# replaced on the server while being listed).
transfer() {
  local label=$1 src=$2 dst=$3
  shift 3
  local try=1 delay=$retry_delay rc out=$tmp/$label.out err=$tmp/$label.err
  mkdir -p "$dst" || die "cannot create $dst"
  while :; do
    rc=0
    "$rsync_bin" "${rsync_opts[@]}" "$@" "$src" "$dst" >"$out" 2>"$err" || rc=$?
    [[ $rc -eq 0 ]] && break
    case $rc in
    5 | 10 | 11 | 12 | 24 | 30 | 35 | 255) ;;
    *)
      sed 's/^/  /' "$err" >&2
      die "copying $label from $src failed: $(rsync_reason "$rc")"
      ;;
    esac
    if [[ $try -ge $tries ]]; then
      if [[ $rc -eq 24 ]]; then
        # Everything else arrived; the replaced files come with the next run.
        warn "$label: $(rsync_reason 24); they are copied by the next run"
        break
      fi
      sed 's/^/  /' "$err" >&2
      die "copying $label from $src failed after $tries tries: $(rsync_reason "$rc")"
    fi
    warn "$label: $(rsync_reason "$rc"); trying again in ${delay}s ($((try + 1)) of $tries)"
    sleep "$delay"
    delay=$((delay * 2))
    try=$((try + 1))
  done
  local files bytes wire deleted
  # rsync 3.1+ says "regular files", older ones "files".
  files=$(stat_value "Number of regular files transferred" "$out")
  [[ $files != 0 ]] || files=$(stat_value "Number of files transferred" "$out")
  bytes=$(stat_value "Total transferred file size" "$out")
  # Sent plus received: a pull over the network mostly receives, a local
  # copy reports from the sending side.
  wire=$(($(stat_value "Total bytes sent" "$out") + $(stat_value "Total bytes received" "$out")))
  deleted=$(stat_value "Number of deleted files" "$out")
  echo "$label: $src -> $dst"
  grep -E '^(Number of|Total (file size|transferred file size|bytes sent|bytes received))' "$out" | sed 's/^/  /' || true
  total_files=$((total_files + files))
  total_bytes=$((total_bytes + bytes))
  total_wire=$((total_wire + wire))
  total_deleted=$((total_deleted + deleted))
}

start=$SECONDS

if [[ $want_jira == true ]]; then
  if [[ $transport == local && ! -d $remote/parquet/jira ]]; then
    die "no exported data at $remote/parquet/jira (is remote the server's data directory?)"
  fi
  transfer jira "$remote/parquet/jira/" "$target/parquet/jira/"
fi

if [[ $want_attachments == true ]]; then
  # A server that never stored an attachment has no attachments/ folder: the
  # folder itself (no trailing slash) is the source, which
  # --ignore-missing-args may skip; "folder/" would fail to change into it.
  transfer attachments "$remote/attachments" "$target/" --ignore-missing-args
elif [[ -d $target/attachments ]]; then
  note "jira_attachments is false: $target/attachments is no longer updated (delete it if you do not need it)"
fi

# ---- views ---------------------------------------------------------------------

# The statements follow sql/view_*.sql of the jiraduck source: one view per
# table over its month partitions, or over its one file for a dimension
# table. DuckDB refuses a view over a glob that matches no file, so a table
# without files gets no view.
root=$target/parquet/jira
views_new=$tmp/views.sql
views_file=$target/views.sql
db_file=$target/analyst.duckdb
nviews=0
missing=()
if [[ $want_jira == true ]]; then
  quoted_root=${root//\'/\'\'}
  # The site column, as the server's views and the bucket's site=<name>
  # folders give it: the name manifest.json carries (JIRADUCK_SITE on the
  # server; a name of [a-z0-9-] only), else NULL.
  site_sql="CAST(NULL AS VARCHAR)"
  site=$(sed -n 's/^  "site": "\([a-z0-9][a-z0-9-]*\)",\{0,1\}$/\1/p' "$root/manifest.json" 2>/dev/null | head -n 1)
  [[ -n $site ]] && site_sql="'$site'"
  {
    echo "-- jiraduck analyst views over $root"
    echo "-- (written by $prog; each view reads <table>/month=*/*.parquet at query time)."
    echo "-- Load into the DuckDB CLI:  duckdb -init '$views_file'"
    for t in "${tables[@]}"; do
      if compgen -G "$root/$t/month=*/*.parquet" >/dev/null; then
        echo "CREATE OR REPLACE VIEW jira_$t AS"
        echo "SELECT *, $site_sql AS site FROM read_parquet('$quoted_root/$t/month=*/*.parquet', hive_partitioning = true, union_by_name = true);"
        nviews=$((nviews + 1))
      else
        echo "-- no view jira_$t: the server has published no $t partition yet"
        missing+=("$t")
      fi
    done
    for t in "${dim_tables[@]}"; do
      if [[ -f $root/$t/data.parquet ]]; then
        echo "CREATE OR REPLACE VIEW jira_$t AS"
        echo "SELECT *, $site_sql AS site FROM read_parquet('$quoted_root/$t/data.parquet');"
        nviews=$((nviews + 1))
      else
        echo "-- no view jira_$t: the server has published no $t file (yet, or the site lacks the product)"
      fi
    done
    # jira_issue_field_history reads jira_changelog and jira_issues: the
    # statement of sql/view_jira_issue_field_history.sql.
    if [[ " ${missing[*]-} " != *" changelog "* && " ${missing[*]-} " != *" issues "* ]]; then
      cat <<'SQL'
CREATE OR REPLACE VIEW jira_issue_field_history AS
WITH items AS (
    SELECT issue_key, field, field_id, coalesce(field_id, field) AS field_key,
           from_string, from_value, to_string, to_value, changed_at, author_account_id,
           row_number() OVER w AS n,
           lead(changed_at) OVER w AS next_at
    FROM jira_changelog
    WHERE changed_at IS NOT NULL AND coalesce(field_id, field) IS NOT NULL
    WINDOW w AS (PARTITION BY issue_key, coalesce(field_id, field)
                 ORDER BY changed_at, try_cast(change_id AS BIGINT), change_id, item_index)
)
SELECT i.issue_key, f.field, f.field_id,
       f.from_string          AS value,
       f.from_value           AS value_id,
       i.created_at           AS valid_from,
       f.changed_at           AS valid_to,
       i.creator_account_id   AS changed_by_account_id,
       i.month
FROM items f
JOIN jira_issues i USING (issue_key)
WHERE f.n = 1 AND f.changed_at > i.created_at
UNION ALL
SELECT f.issue_key, f.field, f.field_id,
       f.to_string            AS value,
       f.to_value             AS value_id,
       f.changed_at           AS valid_from,
       f.next_at              AS valid_to,
       f.author_account_id    AS changed_by_account_id,
       i.month
FROM items f
JOIN jira_issues i USING (issue_key);
SQL
      nviews=$((nviews + 1))
    else
      echo "-- no view jira_issue_field_history: it needs jira_changelog and jira_issues"
    fi
  } >"$views_new"
  for t in ${missing[@]+"${missing[@]}"}; do
    note "no view jira_$t: the server has published no $t partition yet"
  done

  changed=true
  if [[ -f $views_file ]] && cmp -s "$views_new" "$views_file"; then
    changed=false
  else
    mv -f "$views_new" "$views_file" || die "cannot write $views_file"
  fi

  duckdb_cli=${JIRADUCK_DUCKDB:-duckdb}
  if [[ $duckdb_cli != none ]] && command -v "$duckdb_cli" >/dev/null 2>&1; then
    if [[ $nviews -eq 0 ]]; then
      note "no partitions yet, so no views and no $db_file"
    elif [[ $changed == true || ! -f $db_file ]]; then
      # Built next to the old file and renamed over it: a program that has
      # the old analyst.duckdb open keeps reading it undisturbed.
      new_db=$target/.analyst.duckdb.new
      rm -f "$new_db" "$new_db.wal"
      if ! "$duckdb_cli" -batch -bail -init /dev/null "$new_db" <"$views_file" >"$tmp/duckdb.log" 2>&1; then
        sed 's/^/  /' "$tmp/duckdb.log" >&2
        rm -f "$new_db" "$new_db.wal"
        die "$duckdb_cli could not create the views (see above)"
      fi
      mv -f "$new_db" "$db_file" || die "cannot write $db_file"
      rm -f "$new_db.wal"
    fi
    views_where="$nviews views in $db_file (and $views_file)"
  else
    if [[ -n ${JIRADUCK_DUCKDB:-} && $duckdb_cli != none ]]; then
      die "JIRADUCK_DUCKDB=$duckdb_cli: no such program"
    fi
    views_where="$nviews views in $views_file"
    if [[ -f $db_file ]]; then
      note "no duckdb CLI: $db_file was left as it was; $views_file is current"
    fi
    if [[ $changed == true ]]; then
      note "no duckdb CLI found, so the views are only in $views_file; load them with"
      echo "  the DuckDB CLI:  duckdb -init '$views_file'"
      echo "  Python:          con = duckdb.connect(); con.execute(open('$views_file').read())"
      echo "  jiraduck:        JIRADUCK_DATA_DIR='$target' jiraduck query \"SELECT count(*) FROM jira_issues\""
    fi
  fi
else
  views_where="no views (the jira dataset is off)"
fi

# ---- summary -------------------------------------------------------------------

human() {
  awk -v b="$1" 'BEGIN {
    split("B KB MB GB TB", u, " "); i = 1
    while (b >= 1024 && i < 5) { b /= 1024; i++ }
    if (i == 1) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i]
  }'
}

elapsed=$((SECONDS - start))
echo "sync done in ${elapsed}s: $total_files files transferred ($(human "$total_bytes") of file data, $(human "$total_wire") over the wire), $total_deleted deleted; $views_where"
