package store

import (
	"errors"
	"strings"
	"syscall"
)

// storageMessages are how DuckDB and the operating system word a failure of
// the disk itself, as opposed to a refused statement.
var storageMessages = []string{
	"No space left on device", "Disk quota exceeded", "Read-only file system",
	"Input/output error", "IO Error", "Could not write file",
}

// IsStorageFailure reports whether err is the disk failing under the store:
// full, over quota, read-only or an I/O error. Such a failure says nothing
// about the data being written and lasts as long as the disk problem, so
// callers retry it for as long as it takes instead of giving up on the data.
func IsStorageFailure(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := err.Error()
	for _, m := range storageMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// OutOfMemory reports whether err is DuckDB refusing a statement for want of
// memory under its cap. A read-only statement that fails so has changed
// nothing and may succeed with less beside it.
func OutOfMemory(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Out of Memory Error")
}
