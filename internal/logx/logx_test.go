package logx

import (
	"io"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestDiscard checks that every level is dropped, none of them exiting or
// panicking on the way: a component given no logger must behave as with one.
func TestDiscard(t *testing.T) {
	l := Discard()
	if l.Out != io.Discard {
		t.Fatalf("got output %T, want io.Discard", l.Out)
	}
	for _, lvl := range []logrus.Level{logrus.DebugLevel, logrus.InfoLevel, logrus.WarnLevel, logrus.ErrorLevel} {
		t.Run(lvl.String(), func(t *testing.T) {
			l.WithField("component", "test").Log(lvl, "dropped")
		})
	}
}
