package emulator

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// jiraLayout is Jira's timestamp format: milliseconds and a numeric offset
// without a colon, which RFC 3339 parsers reject.
const jiraLayout = "2006-01-02T15:04:05.000-0700"

// zone is the time zone an issue's timestamps are written in. Jira writes
// every timestamp in the time zone of the account that asks, with daylight
// saving time, so one payload can mix +0200 and +0300. Issues are spread over
// a few zones so that parsers meet several offsets, negative ones included.
type zone uint8

const (
	zoneUTC zone = iota
	zoneEurope
	zoneAmerica
	zoneIndia
	numZones
)

var (
	tzCET  = time.FixedZone("CET", 3600)
	tzCEST = time.FixedZone("CEST", 7200)
	tzEST  = time.FixedZone("EST", -5*3600)
	tzEDT  = time.FixedZone("EDT", -4*3600)
	tzIST  = time.FixedZone("IST", 5*3600+1800)
)

// location returns the fixed offset in effect at t. Summer time is
// approximated as April to October, which is enough to put two offsets into
// one issue without shipping a time zone database.
func (z zone) location(t time.Time) *time.Location {
	summer := t.Month() >= time.April && t.Month() <= time.October
	switch z {
	case zoneEurope:
		if summer {
			return tzCEST
		}
		return tzCET
	case zoneAmerica:
		if summer {
			return tzEDT
		}
		return tzEST
	case zoneIndia:
		return tzIST
	}
	return time.UTC
}

// timeZoneName is the IANA name a user in zone z shows in timeZone.
func (z zone) timeZoneName() string {
	switch z {
	case zoneEurope:
		return "Europe/Berlin"
	case zoneAmerica:
		return "America/New_York"
	case zoneIndia:
		return "Asia/Kolkata"
	}
	return "Etc/UTC"
}

func jiraTime(t time.Time, z zone) string {
	return t.In(z.location(t)).Format(jiraLayout)
}

// isoTime is the iso8601 member of SLA times: no milliseconds.
func isoTime(t time.Time, z zone) string {
	return t.In(z.location(t)).Format("2006-01-02T15:04:05-0700")
}

// friendlyTime is how renderedFields and SLA values show an instant.
func friendlyTime(t time.Time, z zone) string {
	return t.In(z.location(t)).Format("02/Jan/06 3:04 PM")
}

// friendlyDate is how renderedFields show a due date.
func friendlyDate(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return t.Format("02/Jan/06")
}

// friendlyDuration writes a duration the way JSM shows SLA times: "57h 51m",
// "-3h 5m", "45m".
func friendlyDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		d = -d
	}
	h := int64(d / time.Hour)
	m := int64(d % time.Hour / time.Minute)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%s%dh %dm", sign, h, m)
	case h > 0:
		return sign + strconv.FormatInt(h, 10) + "h"
	}
	return sign + strconv.FormatInt(m, 10) + "m"
}

// ms truncates t to Jira's precision.
func ms(t time.Time) time.Time {
	return t.Truncate(time.Millisecond)
}

// clock is the emulator's notion of now. It starts at Options.Now and runs
// with the wall clock (or Options.Clock), so that SLA cycles keep ticking
// between two fetches, plus whatever Advance added.
type clock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	fn     func() time.Time
	offset time.Duration
}

func newClock(base time.Time, fn func() time.Time) *clock {
	return &clock{base: base, start: time.Now(), fn: fn}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	if c.fn != nil {
		t = c.fn()
	} else {
		t = c.base.Add(time.Since(c.start))
	}
	return ms(t.Add(c.offset)).UTC()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
