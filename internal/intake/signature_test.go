package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestSign(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA-256 of "what do ya want for nothing?" under "Jefe".
	const want = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?")); got != want {
		t.Errorf("Sign: got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"webhookEvent":"jira:issue_updated"}`)
	good := Sign(secret, body)
	digest := strings.TrimPrefix(good, "sha256=")
	for _, tc := range []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"prefixed", secret, body, good, nil},
		{"bare hex", secret, body, digest, nil},
		{"upper-case", secret, body, "SHA256=" + strings.ToUpper(digest), nil},
		{"spaces around the digest", secret, body, "sha256= " + digest + " ", nil},
		{"empty body", secret, nil, Sign(secret, nil), nil},
		{"empty secret", nil, body, Sign(nil, body), nil},
		{"empty header", secret, body, "", ErrNoSignature},
		{"sha1", secret, body, "sha1=" + digest[:40], ErrSignatureMethod},
		{"sha512", secret, body, "sha512=" + digest, ErrSignatureMethod},
		{"no method", secret, body, "=" + digest, ErrSignatureMethod},
		{"method only", secret, body, "sha256=", ErrBadSignature},
		{"odd length", secret, body, "sha256=" + digest[:63], ErrBadSignature},
		{"short", secret, body, "sha256=" + digest[:62], ErrBadSignature},
		{"long", secret, body, good + "00", ErrBadSignature},
		{"not hex", secret, body, "sha256=" + strings.Repeat("g", 64), ErrBadSignature},
		{"other body", secret, append(body, ' '), good, ErrBadSignature},
		{"other secret", []byte("s3cret "), body, good, ErrBadSignature},
		{"plain hash", secret, body, "sha256=" + sha256Hex(body), ErrBadSignature},
		{"two equals", secret, body, "sha256=sha256=" + digest, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.secret, tc.body, tc.header); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%q): got %v, want %v", tc.header, err, tc.want)
			}
		})
	}
}

func TestSignatureHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  http.Header
		want string
	}{
		{"none", http.Header{}, ""},
		{"X-Hub-Signature", header("X-Hub-Signature", "sha256=a"), "sha256=a"},
		{"X-Hub-Signature-256", header("X-Hub-Signature-256", "sha256=b"), "sha256=b"},
		{"both", header("X-Hub-Signature", "sha256=a", "X-Hub-Signature-256", "sha256=b"), "sha256=a"},
		{"blank first", header("X-Hub-Signature", " ", "X-Hub-Signature-256", " sha256=b "), "sha256=b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := signatureHeader(tc.hdr); got != tc.want {
				t.Errorf("signatureHeader: got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzVerify checks that a signature made by Sign always verifies, that
// changing one byte of the body or of the digest always fails, and that no
// header makes Verify panic or pass without the right digest.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"webhookEvent":"jira:issue_updated"}`), "sha256=00", uint(0))
	f.Add([]byte{}, []byte{}, "", uint(3))
	f.Add([]byte("k"), []byte("\x00\xff"), "SHA256=", uint(70))
	f.Add([]byte("k"), []byte("body"), "=", uint(1))
	f.Fuzz(func(t *testing.T, secret, body []byte, header string, at uint) {
		sig := Sign(secret, body)
		if err := Verify(secret, body, sig); err != nil {
			t.Fatalf("Verify(Sign(body)): got %v, want nil", err)
		}
		digest := strings.TrimPrefix(sig, "sha256=")
		if err := Verify(secret, body, digest); err != nil {
			t.Fatalf("Verify(bare digest): got %v, want nil", err)
		}

		if len(body) > 0 {
			flipped := append([]byte(nil), body...)
			flipped[at%uint(len(flipped))] ^= 0x01
			if err := Verify(secret, flipped, sig); err == nil {
				t.Fatalf("Verify with body byte %d flipped: got nil, want an error", at%uint(len(flipped)))
			}
		}
		i := at % uint(len(digest))
		b := []byte(digest)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		if err := Verify(secret, body, "sha256="+string(b)); err == nil {
			t.Fatalf("Verify with digest char %d changed: got nil, want an error", i)
		}

		// Any header: no panic, and a pass only with the right digest.
		if err := Verify(secret, body, header); err == nil {
			h := strings.TrimSpace(header)
			if m, v, ok := strings.Cut(h, "="); ok && strings.EqualFold(m, "sha256") {
				h = v
			}
			if got := strings.ToLower(strings.TrimSpace(h)); got != digest {
				t.Fatalf("Verify(%q) passed, want only the digest %s to pass", header, digest)
			}
		}
	})
}
