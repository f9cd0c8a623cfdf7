package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// checkListen validates a listen address as net.Listen would use it, and
// more strictly: net.SplitHostPort takes any port text, and a port such as
// 99999 or "http" would only fail when serve binds, after it has migrated the
// store.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, e.g. 127.0.0.1:8080")
	}
	if host != "" && net.ParseIP(host) == nil && !hostNamePattern.MatchString(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	// Port 0 asks the system for a free port, as the tests do.
	return checkPort(port, 0)
}

var hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// checkPort validates a port number of at least lowest.
func checkPort(port string, lowest int) error {
	n, err := strconv.Atoi(port)
	if err != nil || !isDigits(port) {
		return fmt.Errorf("port %q is not a number", port)
	}
	if n < lowest || n > 65535 {
		return fmt.Errorf("port %d is outside %d-65535", n, lowest)
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// checkSchedule validates a cron spec as serve schedules it, and refuses
// the specs robfig/cron accepts although they cannot be what was meant: one
// that fires more than once a minute (@every 0s runs a job every second), a
// step wider than its field's range (*/61 fires at minute 0 only) and a
// date that never comes (0 0 30 2 *).
func checkSchedule(spec string) error {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("not a cron spec (use e.g. \"@every 15m\" or \"*/15 * * * *\"): %v", err)
	}
	if d, ok := sched.(cron.ConstantDelaySchedule); ok {
		if d.Delay < time.Minute {
			return fmt.Errorf("%q fires more than once a minute (use at least @every 1m)", spec)
		}
		return nil
	}
	fields := strings.Fields(spec)
	if len(fields) > 0 && (strings.HasPrefix(fields[0], "TZ=") || strings.HasPrefix(fields[0], "CRON_TZ=")) {
		fields = fields[1:]
	}
	if len(fields) == len(cronFields) {
		for i, f := range fields {
			if err := checkSteps(f, cronFields[i]); err != nil {
				return fmt.Errorf("%q: %w", spec, err)
			}
		}
	}
	if sched.Next(time.Now()).IsZero() {
		return fmt.Errorf("%q never fires", spec)
	}
	return nil
}

// cronField is one of the five fields of a cron spec, with the bounds and
// names robfig/cron gives it.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var cronFields = []cronField{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day-of-month", 1, 31, nil},
	{"month", 1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{"day-of-week", 0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// checkSteps refuses a step that cannot reach a second value of its range:
// robfig/cron accepts it and fires at the range's first value only. The
// parser has already checked everything else of the field.
func checkSteps(field string, f cronField) error {
	for _, part := range strings.Split(field, ",") {
		rng, stepText, stepped := strings.Cut(part, "/")
		if !stepped {
			continue
		}
		step, err := strconv.Atoi(stepText)
		if err != nil {
			continue
		}
		lo, hi := f.min, f.max
		if rng != "*" && rng != "?" {
			a, b, isRange := strings.Cut(rng, "-")
			lo = f.value(a)
			if isRange {
				hi = f.value(b)
			}
		}
		if step > 1 && lo+step > hi {
			return fmt.Errorf("step /%d in the %s field %q is wider than its range %d-%d", step, f.name, part, lo, hi)
		}
	}
	return nil
}

// value reads a number or a name of the field.
func (f cronField) value(s string) int {
	if n, ok := f.names[strings.ToLower(s)]; ok {
		return n
	}
	n, _ := strconv.Atoi(s)
	return n
}
