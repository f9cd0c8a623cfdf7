package server

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// The status page is one server-rendered HTML document: no script, no
// external asset, so it works behind any proxy and in a terminal browser.
// Every section is gathered on its own; a failing query becomes an error line
// in its section, never a failed page.

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"num":   formatCount,
	"bytes": formatBytes,
	"clip":  func(s string) string { return clip(errorClip, s) },
}).Parse(statusHTML))

const (
	// statusTimeout bounds all the queries of one page.
	statusTimeout = 5 * time.Second
	// recentEventRows and failedEventRows bound the event tables.
	recentEventRows = 50
	failedEventRows = 50
	// failedFetchRows bounds the failed fetches listed.
	failedFetchRows = 50
	// errorClip is how much of an error a table cell shows; the whole text is
	// in the cell's title.
	errorClip = 300
)

// statusPage is everything the template shows.
type statusPage struct {
	Now     time.Time
	Refresh int
	// Refreshes are the auto-refresh choices offered, in seconds (0 is off).
	Refreshes []int
	Took      time.Duration

	Health Health
	// Reasons explain a status other than ok.
	Reasons    []string
	Config     []configRow
	Queue      queueView
	Events     eventsView
	Failed     failedView
	Export     exportView
	Partitions partitionsView
	Runs       runsView
	Tables     tablesView
	Storage    storageView
	Fetches    fetchesView
	Publish    publishView
	// Unsigned says webhooks are accepted without a signature.
	Unsigned bool

	problems []problem
}

// problem is a section that could not be read.
type problem struct {
	section string
	err     error
}

type configRow struct {
	Name, Value string
	// Class colours the value: "ok", "warn" or "" (neutral).
	Class string
}

type queueView struct {
	Depth         int
	OldestPending time.Time
	LastEventAt   time.Time
}

type eventsView struct {
	Counts []stateCount
	Total  int64
	Recent []*store.Event
	Err    string
}

type stateCount struct {
	State string
	N     int64
}

// fetchesView lists the issues whose latest fetch failed, with the short
// reason only: the page answers anyone, and the error's text can carry a
// URL, a path or Jira's own words (GET /admin/health has it).
type fetchesView struct {
	Failures []store.FetchFailure
	Total    int
	Err      string
}

type failedView struct {
	Events []*store.Event
	Err    string
}

type exportView struct {
	LastExport  time.Time
	LastError   string
	Failures    int
	Dirty       int
	OldestDirty time.Time
	DirtyErr    string
	Published   int
}

type partitionsView struct {
	Tables []tablePartitions
	Total  tablePartitions
	// Columns are the tables of the month grid, Months its rows, newest first.
	Columns []string
	Months  []monthPartitions
	Err     string
}

type tablePartitions struct {
	Table       string
	Months      int
	Rows, Bytes int64
	LastWritten time.Time
}

type monthPartitions struct {
	Month string
	// Cells line up with partitionsView.Columns; nil where the table has no
	// file for the month.
	Cells       []*store.PublishedPartition
	Bytes       int64
	LastWritten time.Time
}

type runsView struct {
	Runs []runRow
	Err  string
}

type runRow struct {
	store.Run
	Duration  time.Duration
	Running   bool
	CountList string
}

type tablesView struct {
	Analyst     []store.TableCount
	StoreOnly   []store.TableCount
	Issues      store.IssueCounts
	IssuesErr   string
	Attachments store.AttachmentCounts
	AttachErr   string
	// Dimensions are the dimension tables (projects, users...), by name.
	Dimensions    []dimensionRow
	DimensionsErr string
}

type storageView struct {
	DB, WAL int64
	Err     string
	// Exported is the size of the published Parquet files.
	Exported int64
}

// status serves GET /: the status page. ?refresh=N reloads it every N seconds.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	start := time.Now()
	p := gatherStatus(ctx, s.d, start.UTC())
	p.Refresh = refreshOf(r.URL.Query().Get("refresh"))
	p.Took = time.Since(start)
	if len(p.problems) > 0 {
		s.log.WithField("sections", strings.Join(p.Problems(), ", ")).WithError(p.problems[0].err).
			Warn("status page sections failed")
	}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, p); err != nil {
		s.log.WithError(err).Error("status page render failed")
		http.Error(w, "status page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The page runs no script and loads nothing: say so, so that an escaping
	// mistake could not run one either.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// refreshOf reads ?refresh=N: whole seconds between 2 and 3600, else off.
func refreshOf(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0
	}
	return min(n, 3600)
}

// gatherStatus reads every section of the page.
func gatherStatus(ctx context.Context, d Deps, now time.Time) *statusPage {
	p := &statusPage{Now: now, Refreshes: []int{0, 5, 30}}
	fail := func(section string, err error) string {
		p.problems = append(p.problems, problem{section, err})
		return err.Error()
	}
	p.Health = HealthOf(ctx, d)
	p.Config = configRows(d.Config, d.Intake.Configured())
	p.Reasons = reasons(d, p.Health)
	p.Publish = publishViewOf(d, p.Health, now)
	p.Queue = queueView{Depth: d.Queue.Depth(), OldestPending: d.Queue.OldestPending(), LastEventAt: d.Intake.LastEventAt()}

	if counts, err := d.Store.EventCounts(ctx); err != nil {
		p.Events.Err = fail("event counts", err)
	} else {
		p.Events.Counts, p.Events.Total = orderStates(counts)
	}
	if evs, err := d.Store.RecentEvents(ctx, recentEventRows); err != nil {
		p.Events.Err = fail("recent events", err)
	} else {
		p.Events.Recent = evs
		// The intake knows only what it accepted since start and what was
		// stored before; events written by other means count too.
		if len(evs) > 0 && evs[0].ReceivedAt.After(p.Queue.LastEventAt) {
			p.Queue.LastEventAt = evs[0].ReceivedAt
		}
	}
	if evs, err := d.Store.FailedEvents(ctx, failedEventRows); err != nil {
		p.Failed.Err = fail("failed events", err)
	} else {
		p.Failed.Events = evs
	}

	st := d.Exporter.Status()
	p.Export = exportView{LastExport: st.LastExport, LastError: st.LastError, Failures: st.Failures}
	if dirty, err := d.Store.DirtyPartitions(ctx); err != nil {
		p.Export.DirtyErr = fail("dirty partitions", err)
	} else {
		p.Export.Dirty = len(dirty)
		for _, dp := range dirty {
			if p.Export.OldestDirty.IsZero() || dp.MarkedAt.Before(p.Export.OldestDirty) {
				p.Export.OldestDirty = dp.MarkedAt.UTC()
			}
		}
	}
	parts, err := d.Store.Partitions(ctx)
	if err != nil {
		p.Partitions.Err = fail("partitions", err)
	} else {
		p.Partitions = groupPartitions(parts)
		p.Export.Published = len(parts)
	}

	if runs, err := d.Store.LastRuns(ctx); err != nil {
		p.Runs.Err = fail("jobs", err)
	} else {
		for _, r := range runs {
			p.Runs.Runs = append(p.Runs.Runs, runRowOf(r, now))
		}
	}

	p.Tables.Analyst = d.Store.RowCounts(ctx, normalize.Tables)
	p.Tables.StoreOnly = d.Store.RowCounts(ctx, store.StoreOnlyTables)
	for _, c := range append(append([]store.TableCount(nil), p.Tables.Analyst...), p.Tables.StoreOnly...) {
		if c.Err != nil {
			fail("row counts", c.Err)
		}
	}
	if dims, err := d.Store.DimensionStates(ctx); err != nil {
		p.Tables.DimensionsErr = fail("dimension tables", err)
	} else {
		p.Tables.Dimensions = dimensionRows(dims, parts)
	}
	if p.Tables.Issues, err = d.Store.IssueCounts(ctx); err != nil {
		p.Tables.IssuesErr = fail("issues", err)
	}
	if p.Tables.Attachments, err = d.Store.AttachmentCounts(ctx); err != nil {
		p.Tables.AttachErr = fail("attachments", err)
	}

	p.Storage = storageView{Exported: p.Partitions.Total.Bytes}
	if p.Storage.DB, p.Storage.WAL, err = d.Store.FileSizes(); err != nil {
		p.Storage.Err = fail("storage", err)
	}
	if list, total, err := d.Store.FetchFailures(ctx, failedFetchRows); err != nil {
		p.Fetches.Err = fail("failed fetches", err)
	} else {
		p.Fetches.Failures, p.Fetches.Total = list, total
		for i := range p.Fetches.Failures {
			p.Fetches.Failures[i].Error = ""
		}
	}
	p.Unsigned = !d.Config.WebhookSecret.IsSet() && d.Intake.Configured()
	p.scrub()
	return p
}

// pathPattern finds absolute file paths in an error's text: a slash that
// starts a word (not the "//" of a URL) and what follows up to a space, a
// quote, a bracket or a colon (Go's "open /x: ..." errors).
var pathPattern = regexp.MustCompile(`(^|[\s"'=(\[,])/[^/\s"'),:\]][^\s"'),:\]]*`)

// scrubPaths replaces the absolute paths in s by "<path>": the status page
// answers anyone, and the paths of the data directory are not theirs to
// know. The log and GET /admin/health keep them.
func scrubPaths(s string) string {
	return pathPattern.ReplaceAllString(s, "$1<path>")
}

// scrub takes the paths out of every error text the page shows.
func (p *statusPage) scrub() {
	for _, f := range []*string{&p.Events.Err, &p.Failed.Err, &p.Export.LastError, &p.Publish.LastError, &p.Export.DirtyErr, &p.Partitions.Err,
		&p.Runs.Err, &p.Tables.IssuesErr, &p.Tables.AttachErr, &p.Storage.Err, &p.Fetches.Err} {
		*f = scrubPaths(*f)
	}
	for i := range p.Runs.Runs {
		p.Runs.Runs[i].Error = scrubPaths(p.Runs.Runs[i].Error)
	}
	for _, evs := range [][]*store.Event{p.Events.Recent, p.Failed.Events} {
		for _, e := range evs {
			e.LastError = scrubPaths(e.LastError)
		}
	}
	for _, counts := range [][]store.TableCount{p.Tables.Analyst, p.Tables.StoreOnly} {
		for i := range counts {
			if counts[i].Err != nil {
				counts[i].Err = errors.New(scrubPaths(counts[i].Err.Error()))
			}
		}
	}
}

// reasons say why the health is not ok, in the words of the page.
func reasons(d Deps, h Health) []string {
	var out []string
	if !d.Config.JiraConfigured() {
		out = append(out, "Jira API not configured")
	}
	if !d.Intake.Configured() {
		out = append(out, "no webhook secret")
	}
	if h.FailedEvents > 0 {
		out = append(out, formatCount(h.FailedEvents)+" failed event"+plural(h.FailedEvents))
	}
	if h.ExportError != "" {
		out = append(out, "export failing")
	}
	if h.StoreError != "" {
		out = append(out, "store not writable")
	}
	if h.Publish != nil && h.Publish.Error != "" {
		out = append(out, "bucket behind")
	}
	if h.FailedFetches > 0 {
		out = append(out, formatCount(h.FailedFetches)+" issue"+plural(int64(h.FailedFetches))+" failing to fetch")
	}
	if h.Status == "degraded" && len(out) == 0 {
		out = append(out, "event counts unreadable")
	}
	return out
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// stateOrder is the order event states are listed in; unknown states follow.
var stateOrder = []string{store.EventPending, store.EventDone, store.EventFailed, store.EventIgnored}

func orderStates(counts map[string]int64) ([]stateCount, int64) {
	var out []stateCount
	var total int64
	for _, st := range stateOrder {
		out = append(out, stateCount{State: st, N: counts[st]})
	}
	var other []string
	for st := range counts {
		if !contains(stateOrder, st) {
			other = append(other, st)
		}
	}
	sort.Strings(other)
	for _, st := range other {
		out = append(out, stateCount{State: st, N: counts[st]})
	}
	for _, c := range out {
		total += c.N
	}
	return out, total
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// dimensionRow is one dimension table on the status page.
type dimensionRow struct {
	store.DimensionState
	// Bytes is its published file's size, 0 while it has none.
	Bytes int64
}

// dimensionRows lists the dimension tables by name, with their files.
func dimensionRows(states map[string]store.DimensionState, parts []store.PublishedPartition) []dimensionRow {
	out := make([]dimensionRow, 0, len(states))
	for _, st := range states {
		r := dimensionRow{DimensionState: st}
		for _, pp := range parts {
			if pp.Month == "" && pp.Table == st.Table {
				r.Bytes = pp.Bytes
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b dimensionRow) int { return strings.Compare(a.Table, b.Table) })
	return out
}

// groupPartitions sums the partitions per table and lays them out as a grid
// of months (newest first) by table.
func groupPartitions(parts []store.PublishedPartition) partitionsView {
	v := partitionsView{Total: tablePartitions{Table: "all tables"}}
	columns := append([]string(nil), normalize.Tables...)
	byTable := map[string]*tablePartitions{}
	byMonth := map[string]map[string]*store.PublishedPartition{}
	months := map[string]bool{}
	for i := range parts {
		pp := &parts[i]
		if pp.Month == "" {
			// A dimension table's one file: the tables section lists it.
			continue
		}
		if !contains(columns, pp.Table) {
			columns = append(columns, pp.Table)
		}
		t := byTable[pp.Table]
		if t == nil {
			t = &tablePartitions{Table: pp.Table}
			byTable[pp.Table] = t
		}
		for _, agg := range []*tablePartitions{t, &v.Total} {
			agg.Months++
			agg.Rows += pp.Rows
			agg.Bytes += pp.Bytes
			if pp.WrittenAt.After(agg.LastWritten) {
				agg.LastWritten = pp.WrittenAt
			}
		}
		if byMonth[pp.Month] == nil {
			byMonth[pp.Month] = map[string]*store.PublishedPartition{}
		}
		byMonth[pp.Month][pp.Table] = pp
		months[pp.Month] = true
	}
	v.Total.Months = len(months)
	for _, c := range columns {
		if t := byTable[c]; t != nil {
			v.Tables = append(v.Tables, *t)
			v.Columns = append(v.Columns, c)
		}
	}
	var ms []string
	for m := range months {
		ms = append(ms, m)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	for _, m := range ms {
		row := monthPartitions{Month: m}
		for _, c := range v.Columns {
			pp := byMonth[m][c]
			row.Cells = append(row.Cells, pp)
			if pp != nil {
				row.Bytes += pp.Bytes
				if pp.WrittenAt.After(row.LastWritten) {
					row.LastWritten = pp.WrittenAt
				}
			}
		}
		v.Months = append(v.Months, row)
	}
	return v
}

func runRowOf(r store.Run, now time.Time) runRow {
	row := runRow{Run: r, Running: r.Status == store.RunRunning}
	switch {
	case r.FinishedAt != nil:
		row.Duration = r.FinishedAt.Sub(r.StartedAt)
	case row.Running:
		row.Duration = now.Sub(r.StartedAt)
	}
	keys := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+formatCount(r.Counts[k]))
	}
	row.CountList = strings.Join(parts, " · ")
	return row
}

// configRows describe the settings that matter at a glance. Secrets are
// reported as set or not, never shown.
func configRows(cfg *config.Config, accepting bool) []configRow {
	set := func(ok bool, yes, no string, noClass string) configRow {
		if ok {
			return configRow{Value: yes, Class: "ok"}
		}
		return configRow{Value: no, Class: noClass}
	}
	named := func(name string, r configRow) configRow { r.Name = name; return r }
	site := siteOf(cfg)
	rows := []configRow{
		named("Jira site", set(site != "", site, "not set", "warn")),
		named("Jira API account", set(cfg.JiraConfigured(), "set", "not set: webhooks are stored but not processed", "warn")),
		named("SLA account", set(cfg.JiraSLAEmail != "" && cfg.JiraSLAAPIToken.IsSet(), "set (separate account)",
			"not set: the main account reads SLA fields", "")),
	}
	secret := set(cfg.WebhookSecret.IsSet(), "set", "not set: webhooks are refused", "warn")
	if !cfg.WebhookSecret.IsSet() && accepting {
		secret.Value = "not set: unsigned webhooks are accepted"
	}
	rows = append(rows,
		named("Webhook secret", secret),
		named("Admin token", set(cfg.AdminToken.IsSet(), "set", "not set: admin API off", "")),
		configRow{Name: "Debug fetch endpoint", Value: onOff(cfg.Debug && cfg.AdminToken.IsSet())},
		configRow{Name: "Workers", Value: strconv.Itoa(cfg.Workers)},
		configRow{Name: "SLA poll", Value: schedule(cfg.SLAPollSchedule)},
		configRow{Name: "Reconcile", Value: schedule(cfg.ReconcileSchedule)},
		configRow{Name: "Snapshot", Value: schedule(cfg.SnapshotSchedule)},
		configRow{Name: "Attachment limit", Value: formatBytes(cfg.AttachmentMaxBytes)},
		configRow{Name: "Event retention", Value: formatDuration(cfg.EventRetention)},
	)
	rows = append(rows, named("Bucket", set(cfg.Publishing(), cfg.PublishURL+" (site "+cfg.Site+")", "off", "")))
	return rows
}

// siteOf is the Jira site's host, never anything a base URL might carry
// besides it (user info, query).
func siteOf(cfg *config.Config) string {
	if cfg.JiraDomain != "" {
		return cfg.JiraDomain
	}
	if cfg.JiraBaseURL == "" {
		return ""
	}
	u, err := url.Parse(cfg.JiraBaseURL)
	if err != nil || u.Host == "" {
		return "(unreadable JIRA_BASE_URL)"
	}
	return u.Host + strings.TrimSuffix(u.Path, "/")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func schedule(spec string) string {
	if spec == "" {
		return "off"
	}
	return spec
}

// Ago is how long before the page t was, "never" for the zero time.
func (p *statusPage) Ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := p.Now.Sub(t)
	if d < 0 {
		return "in " + formatDuration(-d)
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		// Tenths of a second of an age are noise.
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	}
	return formatDuration(d) + " ago"
}

// UTC is t as a full UTC timestamp, "" for the zero time.
func (p *statusPage) UTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Problems names the sections that failed, once each, for the banner.
func (p *statusPage) Problems() []string {
	var out []string
	for _, pr := range p.problems {
		if !contains(out, pr.section) {
			out = append(out, pr.section)
		}
	}
	return out
}

// formatDuration is a short human duration: "850 ms", "3 s", "4 min 10 s",
// "2 h 5 min", "3 d 4 h".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		s := fmt.Sprintf("%.1f s", d.Seconds())
		return strings.Replace(s, ".0 s", " s", 1)
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return two(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return two(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	default:
		return two(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
	}
}

func two(a int, au string, b int, bu string) string {
	if b == 0 {
		return fmt.Sprintf("%d %s", a, au)
	}
	return fmt.Sprintf("%d %s %d %s", a, au, b, bu)
}

// formatBytes is a size in binary units: "512 B", "1.5 KiB", "12.3 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// formatCount writes an integer with thousands separators: 1,234,567.
func formatCount(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case int32:
		n = int64(x)
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// clip shortens s to n runes, marking the cut.
func clip(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// moment is a time as the page shows it: an age, with the full time on hover.
type moment struct {
	Never    bool
	Ago, UTC string
	ISO      string
}

// At describes t for the "when" template.
func (p *statusPage) At(t time.Time) moment {
	if t.IsZero() {
		return moment{Never: true, Ago: "never"}
	}
	return moment{Ago: p.Ago(t), UTC: p.UTC(t), ISO: t.UTC().Format(time.RFC3339)}
}

// Duration is a short human duration.
func (p *statusPage) Duration(d time.Duration) string { return formatDuration(d) }

// RecentLimit is how many recent events the page shows at most.
func (p *statusPage) RecentLimit() int { return recentEventRows }

// FailedLimit is how many failed events the page shows at most.
func (p *statusPage) FailedLimit() int { return failedEventRows }

// eventList is the argument of the "events" template.
type eventList struct {
	Page   *statusPage
	Events []*store.Event
}

// EventList pairs events with the page for the "events" template.
func (p *statusPage) EventList(evs []*store.Event) eventList { return eventList{Page: p, Events: evs} }
