package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jiraduck/jiraduck/internal/jsonx"
)

// SLAFieldType is the schema.custom of Jira Service Management SLA fields.
const SLAFieldType = "com.atlassian.servicedesk:sd-sla-field"

// SLAValue is the value of a Jira Service Management SLA custom field. A
// never-started SLA has no OngoingCycle and no CompletedCycles. When the
// account may not read it (no agent licence, not a service project), Jira sends
// only an errorMessage, kept in ErrorMessage.
type SLAValue struct {
	ID               ID         `json:"id,omitempty"`
	Name             string     `json:"name,omitempty"`
	OngoingCycle     *SLACycle  `json:"ongoingCycle,omitempty"`
	CompletedCycles  []SLACycle `json:"completedCycles,omitempty"`
	SLADisplayFormat string     `json:"slaDisplayFormat,omitempty"`
	ErrorMessage     string     `json:"errorMessage,omitempty"`
}

// SLACycle is one cycle of an SLA: the ongoing one or a completed one. Paused
// and WithinCalendarHours only appear on ongoing cycles (nil when absent: a
// completed cycle says nothing about calendar hours); RemainingTime is
// negative once breached.
type SLACycle struct {
	StartTime           *SLATime  `json:"startTime,omitempty"`
	StopTime            *SLATime  `json:"stopTime,omitempty"`
	BreachTime          *SLATime  `json:"breachTime,omitempty"`
	Breached            bool      `json:"breached"`
	Paused              bool      `json:"paused,omitempty"`
	WithinCalendarHours *bool     `json:"withinCalendarHours,omitempty"`
	GoalDuration        *Duration `json:"goalDuration,omitempty"`
	ElapsedTime         *Duration `json:"elapsedTime,omitempty"`
	RemainingTime       *Duration `json:"remainingTime,omitempty"`
}

// SLATime is a point in time as SLA values carry it. EpochMillis is the one to
// trust; Friendly is localised for the account that asked.
type SLATime struct {
	EpochMillis int64  `json:"epochMillis"`
	Jira        string `json:"jira,omitempty"`
	ISO8601     string `json:"iso8601,omitempty"`
	Friendly    string `json:"friendly,omitempty"`
}

// Time returns the instant in UTC, from EpochMillis, else from the Jira or ISO
// 8601 text; the zero time when there is none.
func (t *SLATime) Time() time.Time {
	if t == nil {
		return time.Time{}
	}
	if t.EpochMillis != 0 {
		return time.UnixMilli(t.EpochMillis).UTC()
	}
	for _, s := range []string{t.Jira, t.ISO8601} {
		if s == "" {
			continue
		}
		if parsed, err := ParseTime(s); err == nil {
			return parsed
		}
	}
	return time.Time{}
}

// Duration is a length of time as SLA values carry it.
type Duration struct {
	Millis   int64  `json:"millis"`
	Friendly string `json:"friendly,omitempty"`
}

// Duration returns d as a time.Duration.
func (d *Duration) Duration() time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(d.Millis) * time.Millisecond
}

// DecodeSLA decodes the raw value of an SLA field. It returns nil and no error
// for JSON null (no SLA applies), and a value with only ErrorMessage set when
// Jira refused to compute it.
func DecodeSLA(raw json.RawMessage) (*SLAValue, error) {
	raw = bytes.TrimSpace(raw)
	if jsonx.IsNull(raw) {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("decode sla value: want an object, got %.20s", raw)
	}
	var v SLAValue
	if err := jsonx.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode sla value: %w", err)
	}
	return &v, nil
}

// Current returns the cycle an SLA is reported by: the ongoing one, else the
// last completed one; nil for an SLA that never started.
func (v *SLAValue) Current() *SLACycle {
	if v == nil {
		return nil
	}
	if v.OngoingCycle != nil {
		return v.OngoingCycle
	}
	if n := len(v.CompletedCycles); n > 0 {
		return &v.CompletedCycles[n-1]
	}
	return nil
}
