package errkind

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestOf(t *testing.T) {
	notFound := New(NotFound, "no job \"x\"")
	cases := []struct {
		name     string
		err      error
		want     Kind
		wantText string
	}{
		{"unmarked", errors.New("disk full"), Internal, "disk full"},
		{"nil", nil, Internal, ""},
		{"new", notFound, NotFound, `no job "x"`},
		{"errorf", Errorf(Invalid, "body: %w", io.ErrUnexpectedEOF), Invalid, "body: unexpected EOF"},
		{"mark keeps the text", Mark(Upstream, errors.New("status 502")), Upstream, "status 502"},
		{"wrapped by fmt", fmt.Errorf("run: %w", notFound), NotFound, `run: no job "x"`},
		{"kind as sentinel", fmt.Errorf("%w: issue SUP-1", NotFound), NotFound, "not found: issue SUP-1"},
		{"outermost mark wins", Mark(Conflict, fmt.Errorf("job: %w", notFound)), Conflict, `job: no job "x"`},
		{"mark over a sentinel", Mark(Timeout, fmt.Errorf("%w: x", Invalid)), Timeout, "invalid: x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.err); got != c.want {
				t.Errorf("Of: got %v, want %v", got, c.want)
			}
			if c.err == nil {
				return
			}
			if got := c.err.Error(); got != c.wantText {
				t.Errorf("text: got %q, want %q", got, c.wantText)
			}
			if c.want != Internal && !errors.Is(c.err, c.want) {
				t.Errorf("errors.Is(err, %v): got false, want true", c.want)
			}
		})
	}
}

func TestMarkedErrorsMatchWhatTheyWrap(t *testing.T) {
	err := Mark(Unauthorized, fmt.Errorf("signature: %w", io.EOF))
	if !errors.Is(err, io.EOF) {
		t.Errorf("errors.Is(marked, io.EOF): got false, want true")
	}
	if errors.Is(err, Invalid) {
		t.Errorf("errors.Is(unauthorized, Invalid): got true, want false")
	}
	if Mark(Invalid, nil) != nil {
		t.Errorf("Mark(kind, nil): got an error, want nil")
	}
}

func TestKindNames(t *testing.T) {
	for k := Internal; k <= Timeout; k++ {
		if k.String() == "" || k.String() == fmt.Sprintf("kind %d", int(k)) {
			t.Errorf("kind %d has no name", int(k))
		}
	}
	if got, want := NotFound.Error(), "not found"; got != want {
		t.Errorf("NotFound.Error(): got %q, want %q", got, want)
	}
	if got, want := Invalid.Error(), "invalid"; got != want {
		t.Errorf("Invalid.Error(): got %q, want %q", got, want)
	}
	if got, want := Kind(99).String(), "kind 99"; got != want {
		t.Errorf("unknown kind: got %q, want %q", got, want)
	}
}
