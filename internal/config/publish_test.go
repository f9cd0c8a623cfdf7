package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestPublishSettings checks the bucket URL, the endpoint and the site name:
// what is derived from good values, and the variable and problem an invalid
// one is refused with.
func TestPublishSettings(t *testing.T) {
	cases := []struct {
		name                     string
		vars                     map[string]string
		bucket, prefix, site     string
		wantVar, wantProblemPart string
	}{
		{name: "off by default", vars: map[string]string{}},
		{name: "bucket and prefix", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://acme-lake/teams/jira/", "JIRA_DOMAIN": "Acme-Corp.atlassian.net"},
			bucket: "acme-lake", prefix: "teams/jira", site: "acme-corp"},
		{name: "bucket alone", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://acme.lake", "JIRADUCK_SITE": "support"},
			bucket: "acme.lake", site: "support"},
		{name: "site from the base URL's host", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://lake", "JIRA_BASE_URL": "https://jira.acme.test"},
			bucket: "lake", site: "jira"},
		{name: "site given overrides the domain", vars: map[string]string{"JIRA_DOMAIN": "acme.atlassian.net", "JIRADUCK_SITE": "acme-eu"}, site: "acme-eu"},
		{name: "not s3", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "https://lake/prefix", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "s3://bucket"},
		{name: "bucket with capitals", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://Lake", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "bucket name"},
		{name: "bucket too short", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://ab", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "bucket name"},
		{name: "bucket like an IP address", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://192.168.1.10", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "IP address"},
		{name: "prefix climbing out", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://lake/a/../b", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: ".."},
		{name: "prefix with a glob", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://lake/a*", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "glob"},
		{name: "credentials in the URL", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://key:secret@lake/p", "JIRADUCK_SITE": "a"},
			wantVar: "JIRADUCK_PUBLISH_URL", wantProblemPart: "without credentials"},
		{name: "site with a slash", vars: map[string]string{"JIRADUCK_SITE": "a/b"},
			wantVar: "JIRADUCK_SITE", wantProblemPart: "lower-case"},
		{name: "site with capitals", vars: map[string]string{"JIRADUCK_SITE": "Acme"},
			wantVar: "JIRADUCK_SITE", wantProblemPart: "lower-case"},
		{name: "no site to be had", vars: map[string]string{"JIRADUCK_PUBLISH_URL": "s3://lake", "JIRA_BASE_URL": "http://127.0.0.1:9090"},
			wantVar: "JIRADUCK_SITE", wantProblemPart: "must be set"},
		{name: "endpoint not a URL", vars: map[string]string{"JIRADUCK_PUBLISH_ENDPOINT": "minio:9000"},
			wantVar: "JIRADUCK_PUBLISH_ENDPOINT", wantProblemPart: "http or https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := FromMap(c.vars)
			if c.wantVar != "" {
				e, ok := err.(*Error)
				if !ok || e.Var != c.wantVar || !strings.Contains(e.Problem, c.wantProblemPart) {
					t.Fatalf("got %v, want an error on %s saying %q", err, c.wantVar, c.wantProblemPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PublishBucket != c.bucket || cfg.PublishPrefix != c.prefix || cfg.Site != c.site {
				t.Errorf("got bucket %q prefix %q site %q, want %q %q %q", cfg.PublishBucket, cfg.PublishPrefix, cfg.Site, c.bucket, c.prefix, c.site)
			}
			if cfg.Publishing() != (c.bucket != "") {
				t.Errorf("Publishing() = %v with bucket %q", cfg.Publishing(), c.bucket)
			}
		})
	}
}

// TestAWSCredentialsRedacted: the AWS keys of the environment never show in
// the printed settings.
func TestAWSCredentialsRedacted(t *testing.T) {
	cfg, err := FromMap(map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY1234", "AWS_SECRET_ACCESS_KEY": "very-secret-value-123",
		"AWS_SESSION_TOKEN": "session-token-value-456", "JIRADUCK_PUBLISH_URL": "s3://lake/p", "JIRADUCK_SITE": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AWS.SecretAccessKey.Reveal() != "very-secret-value-123" {
		t.Fatalf("secret not read from the variables")
	}
	var printed strings.Builder
	for _, s := range cfg.Redacted() {
		printed.WriteString(s.Name + "=" + s.Value + "\n")
	}
	js, _ := json.Marshal(cfg)
	printed.WriteString(fmt.Sprintf("%+v %#v %s", *cfg, *cfg, js))
	for _, secret := range []string{"AKIAEXAMPLEKEY1234", "very-secret-value-123", "session-token-value-456"} {
		if strings.Contains(printed.String(), secret) {
			t.Errorf("%q printed:\n%s", secret, printed.String())
		}
	}
	if !strings.Contains(printed.String(), "AWS_SECRET_ACCESS_KEY=[redacted]") {
		t.Errorf("the secret's variable not listed as set:\n%s", printed.String())
	}
	if !strings.Contains(printed.String(), "JIRADUCK_PUBLISH_URL=s3://lake/p") {
		t.Errorf("publish URL not printed:\n%s", printed.String())
	}
}
