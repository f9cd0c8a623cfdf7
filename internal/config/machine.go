package config

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// Memory is how much memory the process may use and where that figure
// comes from: the memory limit of its cgroup when one is set (a container,
// a systemd unit with MemoryMax=), else the machine's physical memory. Bytes
// is 0 when neither could be read; the memory defaults then take their
// ceilings.
type Memory struct {
	Bytes  int64
	Source string
}

// DetectMemory reads the process's memory limit from /proc and /sys/fs/cgroup.
func DetectMemory() Memory { return memoryFrom(os.DirFS("/")) }

// memoryFrom reads the limit from a file system laid out like the root one,
// so that tests can hand it captured files.
func memoryFrom(fsys fs.FS) Memory {
	total, totalErr := memTotal(fsys)
	m := Memory{Bytes: total, Source: "/proc/meminfo MemTotal"}
	if totalErr != nil {
		m = Memory{Source: "unknown (/proc/meminfo: " + totalErr.Error() + ")"}
	}
	if limit, src, ok := cgroupLimit(fsys); ok && (m.Bytes == 0 || limit < m.Bytes) {
		m = Memory{Bytes: limit, Source: src}
	}
	return m
}

// memTotal is MemTotal of /proc/meminfo, in bytes.
func memTotal(fsys fs.FS) (int64, error) {
	b, err := fs.ReadFile(fsys, "proc/meminfo")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "MemTotal" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 {
			break
		}
		if len(f) > 1 && f[1] != "kB" {
			break
		}
		return kb << 10, nil
	}
	return 0, fs.ErrNotExist
}

// cgroupLimit is the smallest memory limit set on the process's cgroup or
// one of its ancestors, cgroup v2 first, then v1. A limit applies to a
// whole subtree, so a parent's tighter limit is the one that holds; "max"
// (v2) and v1's page-rounded maximum mean no limit. Inside a container the
// process's own path is often not visible under the mount, whose root is
// then the container's cgroup: that root is read as well.
func cgroupLimit(fsys fs.FS) (int64, string, bool) {
	b, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return 0, "", false
	}
	var v2, v1 string
	hasV2, hasV1 := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2, hasV2 = parts[2], true
		case hasController(parts[1], "memory"):
			v1, hasV1 = parts[2], true
		}
	}
	if hasV1 {
		if n, src, ok := smallestLimit(fsys, "sys/fs/cgroup/memory", v1, "memory.limit_in_bytes", "cgroup v1"); ok {
			return n, src, true
		}
	}
	if hasV2 {
		if n, src, ok := smallestLimit(fsys, "sys/fs/cgroup", v2, "memory.max", "cgroup v2"); ok {
			return n, src, true
		}
		if n, src, ok := smallestLimit(fsys, "sys/fs/cgroup/unified", v2, "memory.max", "cgroup v2"); ok {
			return n, src, true
		}
	}
	return 0, "", false
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// noLimit is the least value cgroup v1 reports for an unlimited group
// (the largest int64 rounded down to a page, or more): anything from here
// on is no limit.
const noLimit = int64(1) << 62

// smallestLimit walks from the cgroup at rel under mount up to the mount's
// root and returns the smallest limit set in file.
func smallestLimit(fsys fs.FS, mount, rel, file, kind string) (int64, string, bool) {
	best, src, found := int64(0), "", false
	dir := path.Clean("/" + rel)
	for {
		p := path.Join(mount, dir, file)
		if n, ok := readLimit(fsys, p); ok && (!found || n < best) {
			best, src, found = n, kind+" "+file+" (/"+p+")", true
		}
		if dir == "/" {
			break
		}
		dir = path.Dir(dir)
	}
	return best, src, found
}

// readLimit reads one limit file; ok is false when it is missing, says no
// limit, or holds something else than a positive number.
func readLimit(fsys fs.FS, p string) (int64, bool) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= noLimit {
		return 0, false
	}
	return n, true
}
