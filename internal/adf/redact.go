package adf

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces the value of a credential found in a URL.
const redacted = "REDACTED"

// RedactURL returns u with the values of credential-like parameters replaced
// by "REDACTED": query parameters, parameters in the fragment (OAuth's
// implicit flow puts access_token there) and ";name=value" path parameters
// (Java servlets' jsessionid), plus the password of a "user:password@" part.
// A parameter counts as a credential when its whole name, compared without
// case, '-', '_' or '.', is one of key, tok, code, pin, otp, sig, sdata,
// auth, jwt, session, sid, pass, hmac or ticket, or contains token, secret,
// passw, pwd, signature, credential, apikey, accesskey, privatekey,
// sessionid, authorization or authkey. Short names count only whole:
// "monkey" or "keyboard" are not credentials.
//
// Users paste pre-signed download links, API URLs with keys and links from
// password-reset mails into Jira; the exported text is read far more widely
// than Jira itself. Everything else in u is kept byte for byte, and a string
// that does not parse as a URL is returned unchanged.
func RedactURL(u string) string {
	if !strings.ContainsAny(u, "?#;@") {
		return u
	}
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	rest, frag, hasFrag := strings.Cut(u, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	prefix, path := splitAuthority(rest, pu.Scheme)
	if pu.User != nil {
		prefix = redactUserinfo(prefix)
	}

	var b strings.Builder
	b.Grow(len(u) + len(redacted))
	b.WriteString(prefix)
	b.WriteString(redactPathParams(path))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(redactParams(query))
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(redactParams(frag))
	}
	return b.String()
}

// splitAuthority splits the part of a URL before its query into
// "scheme://authority" and the path.
func splitAuthority(s, scheme string) (prefix, path string) {
	start := 0
	if scheme != "" {
		start = len(scheme) + 1 // url.Parse guarantees s begins with "scheme:"
	}
	if !strings.HasPrefix(s[start:], "//") {
		return s[:start], s[start:]
	}
	end := start + 2
	if i := strings.IndexByte(s[end:], '/'); i >= 0 {
		end += i
	} else {
		end = len(s)
	}
	return s[:end], s[end:]
}

// redactUserinfo replaces the password in "scheme://user:password@host".
func redactUserinfo(prefix string) string {
	at := strings.LastIndexByte(prefix, '@')
	if at < 0 {
		return prefix
	}
	start := strings.Index(prefix, "//")
	if start < 0 || start > at {
		return prefix
	}
	colon := strings.IndexByte(prefix[start+2:at], ':')
	if colon < 0 {
		return prefix
	}
	colon += start + 2
	if colon+1 == at {
		return prefix // empty password
	}
	return prefix[:colon+1] + redacted + prefix[at:]
}

// redactParams redacts "name=value" pairs separated by '&' or ';'. The
// separators and every other byte are kept.
func redactParams(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "&;")
		part, sep := s, ""
		if i >= 0 {
			part, sep, s = s[:i], s[i:i+1], s[i+1:]
		} else {
			s = ""
		}
		b.WriteString(redactParam(part))
		b.WriteString(sep)
	}
	return b.String()
}

// redactParam redacts one "name=value" pair.
func redactParam(p string) string {
	name, value, ok := strings.Cut(p, "=")
	if !ok || value == "" || !isSecretName(name) {
		return p
	}
	return name + "=" + redacted
}

// redactPathParams redacts ";name=value" parameters inside path segments.
func redactPathParams(path string) string {
	if !strings.Contains(path, ";") {
		return path
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		head, params, ok := strings.Cut(seg, ";")
		if ok {
			segs[i] = head + ";" + redactParams(params)
		}
	}
	return strings.Join(segs, "/")
}

// secretNames are parameter names that are credentials on their own; they
// are too short to be searched for inside longer names ("key" is in
// "monkey", "sid" in "inside").
// "tok", "code" (OAuth's authorization code), "pin" and "sdata" (signed
// data) carry one-time or signed values.
var secretNames = map[string]bool{
	"key": true, "sig": true, "auth": true, "jwt": true, "session": true, "sid": true,
	"pass": true, "otp": true, "hmac": true, "ticket": true,
	"tok": true, "code": true, "pin": true, "sdata": true,
}

// secretParts mark a credential wherever they appear in a name:
// "access_token", "X-Amz-Security-Token", "client_secret", "oauth_signature".
var secretParts = []string{
	"token", "secret", "passw", "pwd", "signature", "credential",
	"apikey", "accesskey", "privatekey", "sessionid", "authorization", "authkey",
}

// isSecretName reports whether a (possibly percent-encoded) parameter name
// names a credential.
func isSecretName(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	n := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
	if secretNames[n] {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// urlInText finds URLs in free text: wiki markup ([label|https://...]),
// plain strings of changelog entries and custom fields.
var urlInText = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s<>"'|\]\[{}]+`)

// RedactText applies RedactURL to every URL found in free text, such as the
// wiki markup Jira keeps in changelog entries of the description.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, func(u string) string {
		// Sentence punctuation after a URL is not part of it.
		trimmed := strings.TrimRight(u, ".,;:!?)")
		return RedactURL(trimmed) + u[len(trimmed):]
	})
}
