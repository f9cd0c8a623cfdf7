package jira

import "errors"

// ErrInvalidKey is returned for an issue key or id that does not have Jira's
// shape. Nothing is requested and no path is built from such a value.
var ErrInvalidKey = errors.New("invalid issue key or id")

// ValidKey reports whether key is a Jira issue key:
// ^[A-Z][A-Z0-9_]{0,31}-[1-9][0-9]{0,11}$, ASCII only. Keys are checked before
// any file path or URL is built from them.
func ValidKey(key string) bool {
	dash := -1
	for i := 0; i < len(key); i++ {
		if key[i] == '-' {
			dash = i
			break
		}
	}
	if dash < 1 || dash > 32 {
		return false
	}
	project, number := key[:dash], key[dash+1:]
	if project[0] < 'A' || project[0] > 'Z' {
		return false
	}
	for i := 1; i < len(project); i++ {
		c := project[i]
		if !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	if len(number) < 1 || len(number) > 12 || number[0] == '0' {
		return false
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return false
		}
	}
	return true
}

// ValidKeyOrID reports whether s is an issue key or a numeric issue id, the
// two forms Jira accepts in /issue/{issueIdOrKey}.
func ValidKeyOrID(s string) bool {
	return ValidKey(s) || isNumericID(s)
}

// truncate shortens s to at most n bytes for use in error text.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
