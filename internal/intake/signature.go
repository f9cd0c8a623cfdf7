package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Signature errors; their text is what the 401 answer says.
var (
	ErrNoSignature     = errors.New("missing X-Hub-Signature")
	ErrBadSignature    = errors.New("invalid signature")
	ErrSignatureMethod = errors.New("unsupported signature method (want sha256)")
)

// signatureHeader returns the signature a delivery carries: X-Hub-Signature,
// else X-Hub-Signature-256.
func signatureHeader(h http.Header) string {
	if v := strings.TrimSpace(h.Get("X-Hub-Signature")); v != "" {
		return v
	}
	return strings.TrimSpace(h.Get("X-Hub-Signature-256"))
}

// Verify checks that header is the HMAC-SHA256 of body under secret, written
// as "sha256=<hex>" (a bare hex digest is accepted too). The comparison takes
// the same time whatever the first differing byte.
func Verify(secret []byte, body []byte, header string) error {
	digest, err := parseSignature(header)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(digest, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// parseSignature reads the digest of a signature header. The intake calls it
// before reading the body: a delivery without a well-formed signature is
// refused without holding its body.
func parseSignature(header string) ([]byte, error) {
	if header == "" {
		return nil, ErrNoSignature
	}
	digest := header
	if method, value, ok := strings.Cut(header, "="); ok {
		if !strings.EqualFold(method, "sha256") {
			return nil, ErrSignatureMethod
		}
		digest = value
	}
	got, err := hex.DecodeString(strings.TrimSpace(digest))
	if err != nil || len(got) != sha256.Size {
		return nil, ErrBadSignature
	}
	return got, nil
}

// Sign returns the X-Hub-Signature value Jira would send for body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
