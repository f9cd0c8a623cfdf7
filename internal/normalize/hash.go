package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Hashes returns, per analyst table, a digest of the issue's rows in it. The
// store compares them with the digests of the rows it last wrote: a table whose
// rows did not change is neither rewritten nor re-exported. Observation times
// (synced_at, observed_at) are left out, as they change on every fetch.
func (r *Rows) Hashes() map[string]string {
	issue := r.Issue
	issue.SyncedAt = time.Time{}
	sla := make([]SLA, len(r.SLA))
	copy(sla, r.SLA)
	for i := range sla {
		sla[i].ObservedAt = time.Time{}
	}
	return map[string]string{
		"issues":       digest(issue),
		"comments":     digest(r.Comments),
		"attachments":  digest(r.Attachments),
		"changelog":    digest(r.Changelog),
		"issuelinks":   digest(r.IssueLinks),
		"remote_links": digest(r.RemoteLinks),
		"sla":          digest(sla),
		"issue_fields": digest(r.Fields),
		"worklogs":     digest(r.Worklogs),
		"inline_media": digest(r.InlineMedia),

		"issue_sprints":       digest(r.IssueSprints),
		"issue_organizations": digest(r.IssueOrganizations),
	}
}

func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Rows hold only strings, numbers, booleans and times: this cannot
		// happen, and an empty digest only costs a rewrite.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
