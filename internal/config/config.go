// Package config loads and validates jiraduck's settings.
//
// Settings come from environment variables, optionally preceded by a .env file in
// the working directory. The variable names are those of the Python data broker
// jiraduck replaces, so an existing .env keeps working unchanged.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
)

// Config is every setting of jiraduck, loaded from the environment.
type Config struct {
	WebhookSecret Secret `env:"JIRA_WEBHOOK_SECRET"`
	AllowUnsigned bool   `env:"JIRADUCK_ALLOW_UNSIGNED"`

	JiraDomain      string `env:"JIRA_DOMAIN"`
	JiraBaseURL     string `env:"JIRA_BASE_URL"`
	JiraEmail       string `env:"JIRA_EMAIL"`
	JiraAPIToken    Secret `env:"JIRA_API_TOKEN"`
	JiraSLAEmail    string `env:"JIRA_SLA_EMAIL"`
	JiraSLAAPIToken Secret `env:"JIRA_SLA_API_TOKEN"`
	JiraCloudID     string `env:"JIRA_CLOUD_ID"`
	JiraCloudAPIURL string `env:"JIRA_CLOUD_API_URL" envDefault:"https://api.atlassian.com"`

	// SLAFields is empty when the SLA fields are to be discovered from Jira's field list.
	SLAFields FieldAliases `env:"JIRA_SLA_FIELDS"`
	FieldMap  FieldAliases `env:"JIRA_FIELD_MAP"`
	JQL       string       `env:"JIRA_JQL" envDefault:"ORDER BY created ASC"`
	// StoryPointsField is the custom field issues.story_points is read
	// from; empty finds it by name ("Story Points", "Story point estimate")
	// in Jira's field list.
	StoryPointsField string `env:"JIRA_STORY_POINTS_FIELD"`

	DataDir    string `env:"JIRADUCK_DATA_DIR" envDefault:"./data"`
	Listen     string `env:"JIRADUCK_LISTEN" envDefault:"127.0.0.1:8080"`
	AdminToken Secret `env:"JIRADUCK_ADMIN_TOKEN"`
	Workers    int    `env:"JIRADUCK_WORKERS" envDefault:"4"`
	// MaxConnections bounds the HTTP connections serve holds open at once;
	// WebhookReadBytes bounds the bytes of webhook bodies being read at
	// once, before their signature is checked.
	MaxConnections   int   `env:"JIRADUCK_MAX_CONNECTIONS" envDefault:"256"`
	WebhookReadBytes int64 `env:"JIRADUCK_WEBHOOK_READ_BYTES" envDefault:"33554432"`

	// Schedules are cron specs; an empty one disables its job. They carry no
	// envDefault tag because the env library treats "set but empty" as "unset".
	SLAPollSchedule   string `env:"JIRADUCK_SLA_POLL_SCHEDULE"`
	ReconcileSchedule string `env:"JIRADUCK_RECONCILE_SCHEDULE"`
	SnapshotSchedule  string `env:"JIRADUCK_SNAPSHOT_SCHEDULE"`
	// DimensionsSchedule refreshes the dimension tables (projects, users,
	// versions, ...) from Jira.
	DimensionsSchedule string `env:"JIRADUCK_DIMENSIONS_SCHEDULE"`

	AttachmentMaxBytes int64 `env:"JIRADUCK_ATTACHMENT_MAX_BYTES" envDefault:"52428800"`
	// AdminSQLMaxBytes caps the answer of one admin SQL request (POST
	// /admin/sql, the sql command), as JSON: past it the request fails
	// rather than holding an answer of any size in memory.
	AdminSQLMaxBytes int64 `env:"JIRADUCK_ADMIN_SQL_MAX_BYTES" envDefault:"67108864"`
	// DuckDBMemoryLimit caps DuckDB's buffer pool (its cache of the store's
	// blocks); without a cap DuckDB takes up to 80% of the machine's memory.
	// Empty when unset: each command then derives its own from Memory
	// (MemoryPlanFor).
	DuckDBMemoryLimit string `env:"JIRADUCK_DUCKDB_MEMORY_LIMIT"`
	// DuckDBReleaseMemory makes DuckDB return the memory it frees to the
	// system at once instead of keeping it for reuse; nil when unset, and
	// each command then takes its own default (MemoryPlanFor).
	DuckDBReleaseMemory *bool `env:"JIRADUCK_DUCKDB_RELEASE_MEMORY"`
	// GoMemoryLimit is Go's own GOMEMLIMIT, read here only to know whether
	// it is set: when it is not, the commands derive a limit for Go's heap
	// from Memory (MemoryPlanFor).
	GoMemoryLimit  string        `env:"GOMEMLIMIT"`
	EventRetention time.Duration `env:"JIRADUCK_EVENT_RETENTION" envDefault:"720h"`

	// Publish* say where the Parquet tree is copied (JIRADUCK_PUBLISH_URL,
	// s3://bucket/prefix; empty: nowhere); Site names this site's folder
	// there. See publish.go.
	PublishURL       string `env:"JIRADUCK_PUBLISH_URL"`
	PublishEndpoint  string `env:"JIRADUCK_PUBLISH_ENDPOINT"`
	PublishRegion    string `env:"JIRADUCK_PUBLISH_REGION"`
	PublishPathStyle bool   `env:"JIRADUCK_PUBLISH_PATH_STYLE"`
	Site             string `env:"JIRADUCK_SITE"`
	// PublishBucket and PublishPrefix are PublishURL's parts.
	PublishBucket, PublishPrefix string
	// AWS holds the credentials of the environment or .env that the
	// standard AWS chain would read, so that a .env file works for them too.
	AWS AWSCredentials

	LogLevel  string `env:"JIRADUCK_LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"JIRADUCK_LOG_FORMAT"`
	Debug     bool   `env:"JIRADUCK_DEBUG"`

	// Memory is what the process may use, which the memory defaults are
	// derived from: Load detects it; FromMap leaves it unknown, and the
	// defaults then take their ceilings.
	Memory Memory
}

// Default schedules, used when the variable is not set at all.
const (
	DefaultSLAPollSchedule   = "@every 15m"
	DefaultReconcileSchedule = "@every 30m"
	DefaultSnapshotSchedule  = "@every 1h"
	// DefaultDimensionsSchedule is JIRADUCK_DIMENSIONS_SCHEDULE's default.
	DefaultDimensionsSchedule = "@every 1h"
)

// DefaultSLAFields are the SLA metrics whose flat columns the issues table always has.
var DefaultSLAFields = []string{"first_response", "time_to_resolution"}

// Error is an invalid setting: the variable it concerns and what is wrong with it.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// IsError reports whether err is (or wraps) an invalid setting.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Load reads the settings from environ, the process environment as KEY=value
// pairs, on top of the .env file at dotenvPath (ignored when it does not exist).
// Variables of the environment win over those of the file, as python-dotenv does.
func Load(environ []string, dotenvPath string) (*Config, error) {
	vars := map[string]string{}
	if dotenvPath != "" {
		file, err := ReadDotenv(dotenvPath)
		if err != nil {
			return nil, &Error{Var: ".env", Problem: err.Error()}
		}
		for k, v := range file {
			vars[k] = v
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	c, err := FromMap(vars)
	if err != nil {
		return nil, err
	}
	c.Memory = DetectMemory()
	return c, nil
}

// FromMap builds and validates a Config from a map of variables; tests use it
// instead of the process environment.
func FromMap(vars map[string]string) (*Config, error) {
	var c Config
	err := env.ParseWithOptions(&c, env.Options{Environment: vars})
	if err != nil {
		return nil, translateParseError(err)
	}
	for _, s := range []struct {
		name  string
		field *string
		def   string
	}{
		{"JIRADUCK_SLA_POLL_SCHEDULE", &c.SLAPollSchedule, DefaultSLAPollSchedule},
		{"JIRADUCK_RECONCILE_SCHEDULE", &c.ReconcileSchedule, DefaultReconcileSchedule},
		{"JIRADUCK_SNAPSHOT_SCHEDULE", &c.SnapshotSchedule, DefaultSnapshotSchedule},
		{"JIRADUCK_DIMENSIONS_SCHEDULE", &c.DimensionsSchedule, DefaultDimensionsSchedule},
	} {
		if _, set := vars[s.name]; !set {
			*s.field = s.def
		}
		*s.field = strings.TrimSpace(*s.field)
	}
	if err := c.normalize(); err != nil {
		return nil, err
	}
	return &c, nil
}

// translateParseError turns the env library's aggregate error into one line that
// names the first offending variable.
func translateParseError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		first := agg.Errors[0]
		var pe env.ParseError
		if errors.As(first, &pe) {
			name := envName(pe.Name)
			return &Error{Var: name, Problem: describeParseError(pe)}
		}
		return &Error{Var: "environment", Problem: first.Error()}
	}
	return &Error{Var: "environment", Problem: err.Error()}
}

func describeParseError(pe env.ParseError) string {
	var fe *FieldAliasError
	if errors.As(pe.Err, &fe) {
		return fe.Error()
	}
	switch pe.Type.String() {
	case "time.Duration":
		return "not a duration (use e.g. 720h, 15m)"
	case "int", "int64":
		return "not a whole number"
	case "bool":
		return "not a boolean (use true or false)"
	}
	return "invalid value"
}

// envName maps a Config field name back to its variable.
func envName(field string) string {
	t := configType
	if f, ok := t.FieldByName(field); ok {
		if tag := f.Tag.Get("env"); tag != "" {
			name, _, _ := strings.Cut(tag, ",")
			return name
		}
	}
	return field
}

var logFormats = map[string]bool{"": true, "text": true, "json": true}

// normalize fills derived values and validates every setting.
func (c *Config) normalize() error {
	if c.JiraDomain != "" {
		if strings.Contains(c.JiraDomain, "://") || strings.ContainsAny(c.JiraDomain, "/?# ") {
			return &Error{"JIRA_DOMAIN", "must be a host name such as your-org.atlassian.net, without scheme or path"}
		}
	}
	if c.JiraBaseURL == "" && c.JiraDomain != "" {
		c.JiraBaseURL = "https://" + c.JiraDomain
	}
	if c.JiraBaseURL != "" {
		u, err := checkURL(c.JiraBaseURL)
		if err != nil {
			return &Error{"JIRA_BASE_URL", err.Error()}
		}
		c.JiraBaseURL = u
	}
	u, err := checkURL(c.JiraCloudAPIURL)
	if err != nil {
		return &Error{"JIRA_CLOUD_API_URL", err.Error()}
	}
	c.JiraCloudAPIURL = u
	if c.JiraEmail != "" && c.JiraAPIToken == "" {
		return &Error{"JIRA_API_TOKEN", "must be set when JIRA_EMAIL is set"}
	}
	if (c.JiraSLAEmail == "") != (c.JiraSLAAPIToken == "") {
		return &Error{"JIRA_SLA_API_TOKEN", "JIRA_SLA_EMAIL and JIRA_SLA_API_TOKEN must be set together"}
	}
	if c.JiraCloudID != "" && !cloudIDPattern.MatchString(c.JiraCloudID) {
		return &Error{"JIRA_CLOUD_ID", "must be a site id (letters, digits and dashes)"}
	}
	if err := c.FieldMap.checkColumns(c.SLAFields); err != nil {
		return &Error{"JIRA_FIELD_MAP", err.Error()}
	}
	c.StoryPointsField = strings.TrimSpace(c.StoryPointsField)
	if c.StoryPointsField != "" && !fieldIDPattern.MatchString(c.StoryPointsField) {
		return &Error{"JIRA_STORY_POINTS_FIELD", fmt.Sprintf("%q is not a custom field id (customfield_NNNNN)", c.StoryPointsField)}
	}
	if strings.TrimSpace(c.JQL) == "" {
		c.JQL = "ORDER BY created ASC"
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return &Error{"JIRADUCK_DATA_DIR", "must not be empty"}
	}
	if err := checkListen(c.Listen); err != nil {
		return &Error{"JIRADUCK_LISTEN", err.Error()}
	}
	if c.Workers < 1 || c.Workers > 64 {
		return &Error{"JIRADUCK_WORKERS", "must be between 1 and 64"}
	}
	if c.MaxConnections < 8 || c.MaxConnections > 65536 {
		return &Error{"JIRADUCK_MAX_CONNECTIONS", "must be between 8 and 65536"}
	}
	if c.WebhookReadBytes < 10<<20 {
		return &Error{"JIRADUCK_WEBHOOK_READ_BYTES", "must be at least 10485760 (one webhook body of the largest size accepted)"}
	}
	for _, s := range []struct{ name, spec string }{
		{"JIRADUCK_SLA_POLL_SCHEDULE", c.SLAPollSchedule},
		{"JIRADUCK_RECONCILE_SCHEDULE", c.ReconcileSchedule},
		{"JIRADUCK_SNAPSHOT_SCHEDULE", c.SnapshotSchedule},
		{"JIRADUCK_DIMENSIONS_SCHEDULE", c.DimensionsSchedule},
	} {
		if s.spec == "" {
			continue
		}
		if err := checkSchedule(s.spec); err != nil {
			return &Error{s.name, err.Error()}
		}
	}
	if c.AttachmentMaxBytes < 0 {
		return &Error{"JIRADUCK_ATTACHMENT_MAX_BYTES", "must not be negative"}
	}
	if c.AdminSQLMaxBytes < 1024 {
		return &Error{"JIRADUCK_ADMIN_SQL_MAX_BYTES", "must be at least 1024 (bytes)"}
	}
	c.DuckDBMemoryLimit = strings.TrimSpace(c.DuckDBMemoryLimit)
	if c.DuckDBMemoryLimit != "" && !validMemoryLimit(c.DuckDBMemoryLimit) {
		return &Error{"JIRADUCK_DUCKDB_MEMORY_LIMIT", "must be a size such as 512MB or 2GB (at least 64MB)"}
	}
	if c.EventRetention <= 0 {
		return &Error{"JIRADUCK_EVENT_RETENTION", "must be a positive duration"}
	}
	if err := c.normalizePublish(); err != nil {
		return err
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	if _, err := logrus.ParseLevel(c.LogLevel); err != nil {
		return &Error{"JIRADUCK_LOG_LEVEL", "unknown level (use debug, info, warn or error)"}
	}
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	if !logFormats[c.LogFormat] {
		return &Error{"JIRADUCK_LOG_FORMAT", "must be text or json"}
	}
	return nil
}

var cloudIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// memoryLimitPattern is a size as DuckDB's memory_limit takes it.
var memoryLimitPattern = regexp.MustCompile(`^(?i)([0-9]+(?:\.[0-9]+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// validMemoryLimit reports whether v is a size DuckDB takes, of 64 MiB or
// more: less would fail the store's first large statements.
func validMemoryLimit(v string) bool {
	n, ok := MemoryBytes(v)
	// The bound is the one the error message names: 64MB, counted as DuckDB
	// counts MB (10^6 bytes), so "64MB" itself is accepted.
	return ok && n >= 64e6
}

// MemoryBytes is the size v, written as DuckDB's memory_limit takes it
// ("128MB", "1.5GiB"), in bytes; false when v is no such size.
func MemoryBytes(v string) (int64, bool) {
	m := memoryLimitPattern.FindStringSubmatch(v)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]float64{"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	return int64(n * unit[strings.ToLower(m[2])]), true
}

// cronParser accepts what cron.New() accepts in serve: five fields and descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// CronParser returns the parser the schedules are validated with, so that serve
// schedules exactly what was accepted here.
func CronParser() cron.Parser { return cronParser }

func checkURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("must be an http or https URL with a host")
	}
	if u.User != nil {
		return "", errors.New("must not contain credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must not contain a query or fragment")
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p, 1); err != nil {
			return "", err
		}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// SLANames returns the metric names that get flat columns on issues: the
// defaults followed by any other name given in JIRA_SLA_FIELDS.
func (c *Config) SLANames() []string {
	names := append([]string(nil), DefaultSLAFields...)
	for _, a := range c.SLAFields {
		if !contains(names, a.Name) {
			names = append(names, a.Name)
		}
	}
	return names
}

// JiraConfigured reports whether a Jira site and credentials are set.
func (c *Config) JiraConfigured() bool {
	return c.JiraBaseURL != "" && c.JiraEmail != "" && c.JiraAPIToken != ""
}

// Redacted returns every setting by variable name, sorted, with secrets
// replaced, for printing and logging.
func (c *Config) Redacted() []Setting {
	v := configValue(c)
	var out []Setting
	serve, rebuild := c.MemoryPlanFor("serve"), c.MemoryPlanFor("rebuild")
	for i := 0; i < configType.NumField(); i++ {
		f := configType.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			out = append(out, nestedSettings(f, v.Field(i))...)
			continue
		}
		value := fmt.Sprint(v.Field(i).Interface())
		switch name {
		case "JIRADUCK_DUCKDB_MEMORY_LIMIT":
			value = serve.DuckDBLimit + " (" + serve.DuckDBLimitFrom + "; rebuild: " + rebuild.DuckDBLimit + "; memory available: " + c.Memory.String() + ")"
		case "JIRADUCK_DUCKDB_RELEASE_MEMORY":
			value = strconv.FormatBool(serve.ReleaseMemory) + " (" + serve.ReleaseFrom + "; rebuild: " + strconv.FormatBool(rebuild.ReleaseMemory) + ")"
		case "GOMEMLIMIT":
			value = serve.GoLimitText() + " (" + serve.GoLimitFrom + "; rebuild: " + rebuild.GoLimitText() + ")"
		}
		out = append(out, Setting{Name: name, Value: value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Setting is one variable and its effective value as shown to people.
type Setting struct {
	Name  string
	Value string
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
