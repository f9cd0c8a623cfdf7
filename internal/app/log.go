package app

import (
	"io"
	"os"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/sirupsen/logrus"
)

// NewLogger builds the one logger of the process: text for a person at a
// terminal, JSON for journald and log shippers, unless the settings say which.
func NewLogger(cfg *config.Config, w io.Writer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	level, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = logrus.InfoLevel
	}
	l.SetLevel(level)
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if IsTerminal(w) {
			format = "text"
		}
	}
	if format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
	}
	return l
}

// IsTerminal reports whether w is a character device (a person is watching).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
