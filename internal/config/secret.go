package config

import (
	"reflect"
)

// Secret is a setting that must never be printed: fmt, logrus and JSON all see
// a placeholder. Reveal returns the value for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// String returns a placeholder, or "" when the secret is unset.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText keeps JSON and text encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

var configType = reflect.TypeOf(Config{})

func configValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }
