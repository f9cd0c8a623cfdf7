// Package migrations holds the forward-only schema migrations of the canonical
// store, numbered NNNN_name.sql and applied in order by internal/store.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
