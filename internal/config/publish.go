package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strings"
)

// AWSCredentials are the variables of the standard AWS credential chain that
// jiraduck reads from its environment (and .env) rather than leaving to the
// SDK, which sees only the process environment. The rest of the chain
// (shared config and credentials files, SSO, web identity, instance roles)
// is the SDK's own.
type AWSCredentials struct {
	AccessKeyID     Secret `env:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey Secret `env:"AWS_SECRET_ACCESS_KEY"`
	SessionToken    Secret `env:"AWS_SESSION_TOKEN"`
	Profile         string `env:"AWS_PROFILE"`
	// NoInstanceMetadata keeps the SDK from asking the EC2 instance
	// metadata service for credentials (AWS_EC2_METADATA_DISABLED).
	NoInstanceMetadata bool `env:"AWS_EC2_METADATA_DISABLED"`
}

// nestedSettings are the variables of a struct field without a variable of
// its own (AWSCredentials), as Redacted shows them: secrets stay redacted,
// as their type prints them.
func nestedSettings(f reflect.StructField, v reflect.Value) []Setting {
	if f.Type.Kind() != reflect.Struct {
		return nil
	}
	var out []Setting
	for i := 0; i < f.Type.NumField(); i++ {
		name, _, _ := strings.Cut(f.Type.Field(i).Tag.Get("env"), ",")
		if name != "" && f.Type.Field(i).IsExported() {
			out = append(out, Setting{Name: name, Value: fmt.Sprint(v.Field(i).Interface())})
		}
	}
	return out
}

// Publishing reports whether the Parquet tree is to be copied to a bucket.
func (c *Config) Publishing() bool { return c.PublishURL != "" }

// sitePattern is a site's folder name in the bucket (site=<name>): a path
// segment every engine, shell and URL takes as it is.
var sitePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// bucketPattern is S3's rule for bucket names: 3 to 63 lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// normalizePublish checks the publish settings and derives the bucket, the
// prefix and the site name.
func (c *Config) normalizePublish() error {
	c.PublishURL = strings.TrimSpace(c.PublishURL)
	c.PublishEndpoint = strings.TrimSpace(c.PublishEndpoint)
	c.PublishRegion = strings.TrimSpace(c.PublishRegion)
	c.Site = strings.TrimSpace(c.Site)
	if c.Site == "" {
		c.Site = DefaultSite(c.JiraDomain, c.JiraBaseURL)
	} else if !sitePattern.MatchString(c.Site) {
		return &Error{"JIRADUCK_SITE", "must be lower-case letters, digits and dashes, starting with a letter or digit (at most 63)"}
	}
	if c.PublishEndpoint != "" {
		u, err := checkURL(c.PublishEndpoint)
		if err != nil {
			return &Error{"JIRADUCK_PUBLISH_ENDPOINT", err.Error()}
		}
		c.PublishEndpoint = u
	}
	if c.PublishURL == "" {
		return nil
	}
	bucket, prefix, problem := parseBucketURL(c.PublishURL)
	if problem != "" {
		return &Error{"JIRADUCK_PUBLISH_URL", problem}
	}
	if c.Site == "" {
		return &Error{"JIRADUCK_SITE", "must be set when JIRADUCK_PUBLISH_URL is set and JIRA_DOMAIN does not give it (its first label)"}
	}
	c.PublishBucket, c.PublishPrefix = bucket, prefix
	return nil
}

// parseBucketURL splits s3://bucket/prefix, or says what is wrong with it.
func parseBucketURL(raw string) (bucket, prefix, problem string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" {
		return "", "", "must be s3://bucket or s3://bucket/prefix"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", "", "must be s3://bucket/prefix, without credentials, port, query or fragment"
	}
	bucket = u.Host
	if !bucketPattern.MatchString(bucket) || strings.Contains(bucket, "..") || net.ParseIP(bucket) != nil {
		return "", "", "the bucket name must be 3 to 63 lower-case letters, digits, dots and hyphens, start and end with a letter or digit, and not look like an IP address"
	}
	prefix = strings.Trim(u.Path, "/")
	for _, seg := range strings.Split(prefix, "/") {
		if prefix == "" {
			break
		}
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", "", "the prefix must not contain empty, . or .. segments"
		case strings.ContainsAny(seg, "\\*?[]{}\x00") || strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", "", "the prefix must not contain backslashes, glob characters or control characters"
		}
	}
	return bucket, prefix, ""
}

// DefaultSite is the site name when JIRADUCK_SITE is unset: the first label
// of JIRA_DOMAIN (your-org for your-org.atlassian.net), else of
// JIRA_BASE_URL's host name; "" when neither gives a valid name.
func DefaultSite(domain, baseURL string) string {
	host := domain
	if host == "" && baseURL != "" {
		if u, err := url.Parse(baseURL); err == nil && net.ParseIP(u.Hostname()) == nil {
			host = u.Hostname()
		}
	}
	label, _, _ := strings.Cut(strings.ToLower(host), ".")
	if !sitePattern.MatchString(label) {
		return ""
	}
	return label
}
