// Package logx holds what the packages that log share beyond logrus itself.
package logx

import (
	"io"

	"github.com/sirupsen/logrus"
)

// Discard is a logger that writes nothing: what a component logs to when
// its caller gives it no logger (tests, library use).
func Discard() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
