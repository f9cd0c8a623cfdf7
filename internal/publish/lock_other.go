//go:build !unix

package publish

import "context"

// lockFile is a no-op where flock is missing: there, run the publish command
// only while serve is stopped.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
