package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// A benchmark result is one measure of one scenario, taken once per run: the
// table shows its median over the runs and their spread (min..max), and
// whether the median meets the target.

// goal is how a measure is judged.
type goal int

const (
	// goalInfo measures carry no target.
	goalInfo goal = iota
	// goalAtMost passes when the median is at most the limit.
	goalAtMost
	// goalAtLeast passes when the median is at least the limit.
	goalAtLeast
	// goalExactly passes when every run equals the limit (nothing lost).
	goalExactly
)

// measure is one figure of a scenario over every run.
type measure struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"measure"`
	Unit     string    `json:"unit"`
	Values   []float64 `json:"values"`
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Goal     string    `json:"goal,omitempty"`
	Limit    *float64  `json:"target,omitempty"`
	Pass     *bool     `json:"pass,omitempty"`
	Note     string    `json:"note,omitempty"`

	goal goal
}

// report collects the measures of a benchmark run in the order they were
// first recorded.
type report struct {
	Machine  machineInfo `json:"machine"`
	Quick    bool        `json:"quick"`
	Issues   int         `json:"issues"`
	Started  time.Time   `json:"started"`
	Took     string      `json:"took"`
	Measures []*measure  `json:"measures"`
	Notes    []string    `json:"notes,omitempty"`
	index    map[string]*measure
}

func newReport() *report {
	return &report{index: map[string]*measure{}, Started: time.Now().UTC()}
}

// add records one run's value of a measure. The first call fixes its unit,
// goal and limit.
func (r *report) add(scenario, name, unit string, g goal, limit, value float64) *measure {
	k := scenario + "\x00" + name
	m, ok := r.index[k]
	if !ok {
		m = &measure{Scenario: scenario, Name: name, Unit: unit, goal: g}
		if g != goalInfo {
			l := limit
			m.Limit = &l
			m.Goal = [...]string{"", "<=", ">=", "=="}[g]
		}
		r.index[k] = m
		r.Measures = append(r.Measures, m)
	}
	m.Values = append(m.Values, value)
	m.summarize()
	return m
}

// info records a figure without a target.
func (r *report) info(scenario, name, unit string, value float64) *measure {
	return r.add(scenario, name, unit, goalInfo, 0, value)
}

// note adds a line printed under the table.
func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (m *measure) summarize() {
	v := append([]float64(nil), m.Values...)
	sort.Float64s(v)
	m.Min, m.Max = v[0], v[len(v)-1]
	m.Median = percentile(v, 50)
	if m.goal == goalInfo {
		return
	}
	var pass bool
	switch m.goal {
	case goalAtMost:
		pass = m.Median <= *m.Limit
	case goalAtLeast:
		pass = m.Median >= *m.Limit
	case goalExactly:
		pass = m.Min == *m.Limit && m.Max == *m.Limit
	}
	m.Pass = &pass
}

// failed lists the measures that missed their target.
func (r *report) failed() []*measure {
	var out []*measure
	for _, m := range r.Measures {
		if m.Pass != nil && !*m.Pass {
			out = append(out, m)
		}
	}
	return out
}

// percentile returns the p-th percentile (0..100) of sorted values, by linear
// interpolation between the closest ranks.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// latencySummary summarizes one run's samples in milliseconds.
type latencySummary struct {
	p50, p95, p99, max float64
	n                  int
}

func summarizeDurations(d []time.Duration) latencySummary {
	if len(d) == 0 {
		return latencySummary{p50: math.NaN(), p95: math.NaN(), p99: math.NaN(), max: math.NaN()}
	}
	ms := make([]float64, len(d))
	for i, x := range d {
		ms[i] = float64(x) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	return latencySummary{p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99), max: ms[len(ms)-1], n: len(ms)}
}

// writeTable prints the report for people.
func (r *report) writeTable(w io.Writer) {
	mi := r.Machine
	fmt.Fprintf(w, "jiraduck bench: %d cores (%s), %s, DuckDB %s, duckdb-go %s, %s/%s, load average at start %s\n",
		mi.Cores, mi.CPU, mi.Go, mi.DuckDB, mi.Driver, mi.OS, mi.Arch, mi.LoadAtStart)
	mode := fmt.Sprintf("%d issues", r.Issues)
	if r.Quick {
		mode = "quick (correctness only; timings not judged)"
	}
	if mi.Revision != "" {
		mode += ", code at " + mi.Revision
	}
	fmt.Fprintf(w, "mode: %s; took %s\n\n", mode, r.Took)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmeasure\tmedian\tspread (min..max)\truns\ttarget\tresult")
	for _, m := range r.Measures {
		target, result := "", ""
		if m.Limit != nil {
			target = m.Goal + " " + formatValue(*m.Limit, m.Unit)
			result = "pass"
			if !*m.Pass {
				result = "MISS"
			}
		}
		spread := ""
		if len(m.Values) > 1 {
			spread = formatValue(m.Min, m.Unit) + " .. " + formatValue(m.Max, m.Unit)
		}
		name := m.Name
		if m.Note != "" {
			name += " (" + m.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.Scenario, name, formatValue(m.Median, m.Unit), spread, len(m.Values), target, result)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, n := range scenarioNames {
		fmt.Fprintf(w, "%s %s. ", n, scenarioTitles[n])
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// formatValue renders a figure with its unit, with as many digits as are
// meaningful.
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	var s string
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		s = fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		s = fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit == "" {
		return s
	}
	if strings.HasPrefix(unit, "/") || unit == "x" || unit == "%" {
		return s + unit
	}
	return s + " " + unit
}
