package pipeline

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// Catalog knows the site's fields: their names (issue_fields labels) and which
// ones hold SLA values. It is loaded from the store and refreshed from Jira at
// start, daily, and when an issue carries a custom field it does not know.
type Catalog struct {
	cfg *config.Config

	mu        sync.RWMutex
	names     map[string]string
	slaFields map[string]string
	fetchedAt time.Time
	refreshMu sync.Mutex

	// sprintFields, organizationFields and storyPoints are the fields
	// issue_sprints, issue_organizations and issues.story_points are read
	// from (see agileFields); mu guards them.
	sprintFields, organizationFields, storyPoints []string
}

// NewCatalog builds a catalog from the settings alone; Load and Refresh fill it.
func NewCatalog(cfg *config.Config) *Catalog {
	c := &Catalog{cfg: cfg, names: map[string]string{}, slaFields: map[string]string{}}
	for _, f := range cfg.SLAFields {
		c.slaFields[f.ID] = f.Name
	}
	_, _, c.storyPoints = agileFields(cfg, nil)
	return c
}

// Load reads the stored field metadata.
func (c *Catalog) Load(ctx context.Context, s *store.Store) error {
	fields, err := s.Fields(ctx)
	if err != nil {
		return err
	}
	c.set(fields)
	return nil
}

// Refresh fetches the field list from Jira and stores it.
func (c *Catalog) Refresh(ctx context.Context, jc *client.Client, w *store.Writer) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	list, err := jc.Fields(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	metas := make([]store.FieldMeta, 0, len(list))
	for _, f := range list {
		m := store.FieldMeta{ID: f.ID, Name: f.Name, Custom: f.Custom, FetchedAt: now}
		if f.Schema != nil {
			m.SchemaType, m.SchemaCustom, m.SchemaItems = f.Schema.Type, f.Schema.Custom, f.Schema.Items
		}
		metas = append(metas, m)
	}
	if err := w.Do(ctx, func(ctx context.Context, tx *store.Tx) error { return store.ReplaceFields(ctx, tx, metas) }); err != nil {
		return err
	}
	c.set(metas)
	return nil
}

func (c *Catalog) set(fields []store.FieldMeta) {
	names := make(map[string]string, len(fields))
	var latest time.Time
	sla := map[string]string{}
	for _, f := range fields {
		names[f.ID] = f.Name
		if f.FetchedAt.After(latest) {
			latest = f.FetchedAt
		}
		if f.SchemaCustom == jira.SLAFieldType {
			sla[f.ID] = SLAMetricName(f.Name)
		}
	}
	sprints, orgs, points := agileFields(c.cfg, fields)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = names
	c.sprintFields, c.organizationFields, c.storyPoints = sprints, orgs, points
	c.fetchedAt = latest
	if len(c.cfg.SLAFields) == 0 {
		c.slaFields = sla
	}
}

// Stale reports whether the field list is older than a day or missing.
func (c *Catalog) Stale() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fetchedAt.IsZero() || time.Since(c.fetchedAt) > 24*time.Hour
}

// Knows reports whether every given field id is in the list.
func (c *Catalog) Knows(ids []string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, id := range ids {
		if _, ok := c.names[id]; !ok {
			return false
		}
	}
	return true
}

// SLAFieldIDs lists the SLA fields to overlay through the SLA account.
func (c *Catalog) SLAFieldIDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]string, 0, len(c.slaFields))
	for id := range c.slaFields {
		ids = append(ids, id)
	}
	return ids
}

// Options are the normalize options of the site as currently known.
func (c *Catalog) Options() normalize.Options {
	c.mu.RLock()
	defer c.mu.RUnlock()
	opts := normalize.Options{
		BrowseBase: browseBase(c.cfg),
		SLAFields:  make(map[string]string, len(c.slaFields)),
		SLANames:   c.cfg.SLANames(),
		FieldNames: c.names,

		SprintFields:       c.sprintFields,
		OrganizationFields: c.organizationFields,
		StoryPointsFields:  c.storyPoints,
	}
	for id, n := range c.slaFields {
		opts.SLAFields[id] = n
	}
	for _, f := range c.cfg.FieldMap {
		opts.FieldMap = append(opts.FieldMap, normalize.FieldColumn{ID: f.ID, Column: f.Name})
	}
	return opts
}

// browseBase is the site people open issues on: the Jira domain when known,
// else the REST base URL.
func browseBase(cfg *config.Config) string {
	if cfg.JiraDomain != "" {
		return "https://" + cfg.JiraDomain
	}
	return cfg.JiraBaseURL
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// SLAMetricName names a discovered SLA field's metric: Jira's default "Time to
// first response" and "Time to resolution" become the default column names
// first_response and time_to_resolution; others are their name in snake case.
func SLAMetricName(fieldName string) string {
	n := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(fieldName), "_"), "_")
	switch {
	case strings.Contains(n, "first_response"):
		return "first_response"
	case n == "time_to_resolution" || n == "resolution_time":
		return "time_to_resolution"
	case n == "":
		return "sla"
	}
	return n
}
