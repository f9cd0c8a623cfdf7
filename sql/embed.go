// Package sql holds the analyst views and the longer shared queries, one
// statement per file, embedded into the binary.
package sql

import "embed"

// FS holds every .sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
