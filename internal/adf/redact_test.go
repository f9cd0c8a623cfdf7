package adf

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "no query", in: "https://example.atlassian.net/browse/SUP-1", want: "https://example.atlassian.net/browse/SUP-1"},
		{name: "harmless query kept byte for byte", in: "https://x.example/a%20b?q=a+b&jql=project%20%3D%20SUP#top",
			want: "https://x.example/a%20b?q=a+b&jql=project%20%3D%20SUP#top"},
		{name: "token", in: "https://x.example/?token=abc", want: "https://x.example/?token=REDACTED"},
		{name: "access_token among others", in: "https://x.example/p?a=1&access_token=abc&b=2", want: "https://x.example/p?a=1&access_token=REDACTED&b=2"},
		{name: "case-insensitive", in: "https://x.example/?API_KEY=abc&ApiKey=def", want: "https://x.example/?API_KEY=REDACTED&ApiKey=REDACTED"},
		{name: "jwt", in: "https://app.example/render?jwt=eyJhbGciOi.x.y&lic=none", want: "https://app.example/render?jwt=REDACTED&lic=none"},
		{name: "secret and client_secret", in: "https://x.example/?secret=s&client_secret=c&client_id=id",
			want: "https://x.example/?secret=REDACTED&client_secret=REDACTED&client_id=id"},
		{name: "passwords", in: "https://x.example/?password=a&passwd=b&pwd=c&pass=d&user=e",
			want: "https://x.example/?password=REDACTED&passwd=REDACTED&pwd=REDACTED&pass=REDACTED&user=e"},
		{name: "signatures", in: "https://x.example/?signature=a&sig=b&Signature=c", want: "https://x.example/?signature=REDACTED&sig=REDACTED&Signature=REDACTED"},
		{name: "pre-signed s3 link", in: "https://b.s3.amazonaws.com/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101&X-Amz-Date=20240101T000000Z&X-Amz-Security-Token=tok&X-Amz-Signature=abc123",
			want: "https://b.s3.amazonaws.com/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20240101T000000Z&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"},
		{name: "key, auth and authorization", in: "https://x.example/?key=k&auth=a&Authorization=Bearer%20x&keyword=kept&author=kept",
			want: "https://x.example/?key=REDACTED&auth=REDACTED&Authorization=REDACTED&keyword=kept&author=kept"},
		{name: "session ids", in: "https://x.example/?session=a&sessionid=b&session_id=c&JSESSIONID=d",
			want: "https://x.example/?session=REDACTED&sessionid=REDACTED&session_id=REDACTED&JSESSIONID=REDACTED"},
		{name: "credentials", in: "https://x.example/?credential=a&credentials=b", want: "https://x.example/?credential=REDACTED&credentials=REDACTED"},
		{name: "atlassian xsrf token", in: "https://x.atlassian.net/secure/Act.jspa?id=1&atl_token=a1b2|lin", want: "https://x.atlassian.net/secure/Act.jspa?id=1&atl_token=REDACTED"},
		{name: "percent-encoded name", in: "https://x.example/?access%5Ftoken=abc", want: "https://x.example/?access%5Ftoken=REDACTED"},
		{name: "empty value and bare name kept", in: "https://x.example/?token=&token&x=1", want: "https://x.example/?token=&token&x=1"},
		{name: "semicolon separators", in: "https://x.example/?a=1;token=abc", want: "https://x.example/?a=1;token=REDACTED"},
		{name: "fragment parameters", in: "https://app.example/cb#access_token=abc&token_type=bearer&state=s",
			want: "https://app.example/cb#access_token=REDACTED&token_type=REDACTED&state=s"},
		{name: "plain fragment kept", in: "https://x.example/page#section-2", want: "https://x.example/page#section-2"},
		{name: "path parameter", in: "https://jira.example/secure/Dashboard.jspa;jsessionid=ABC123?x=1",
			want: "https://jira.example/secure/Dashboard.jspa;jsessionid=REDACTED?x=1"},
		{name: "password in userinfo", in: "https://bob:hunter2@git.example/repo.git", want: "https://bob:REDACTED@git.example/repo.git"},
		{name: "user without password", in: "ssh://git@git.example/repo.git", want: "ssh://git@git.example/repo.git"},
		{name: "relative url", in: "/rest/api/3/attachment/content/1?token=abc", want: "/rest/api/3/attachment/content/1?token=REDACTED"},
		{name: "no scheme", in: "example.com/?apikey=abc", want: "example.com/?apikey=REDACTED"},
		{name: "mailto", in: "mailto:help@example.com?subject=hi", want: "mailto:help@example.com?subject=hi"},
		{name: "does not parse", in: "http://[::1/?token=abc", want: "http://[::1/?token=abc"},
		{name: "control character", in: "https://x.example/?token=a\nb", want: "https://x.example/?token=a\nb"},
		{name: "empty", in: "", want: ""},
		{name: "not a url", in: "just words", want: "just words"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q)\ngot  %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"no links here", "no links here"},
		{"see [runbook|https://wiki.test/x?token=abc&page=2] now", "see [runbook|https://wiki.test/x?token=REDACTED&page=2] now"},
		{"two: http://a.test/?secret=1 and https://b.test/p?api_key=k.", "two: http://a.test/?secret=REDACTED and https://b.test/p?api_key=REDACTED."},
		{"https://plain.test/path", "https://plain.test/path"},
		{"h1. Access\n[console|https://admin:hunter2@c.test/x?otp=123456]\n{code}curl https://api.test/v1?apikey=k{code}",
			"h1. Access\n[console|https://admin:REDACTED@c.test/x?otp=REDACTED]\n{code}curl https://api.test/v1?apikey=REDACTED{code}"},
		{"no scheme, no url: example.com/x?tok=s3cret", "no scheme, no url: example.com/x?tok=s3cret"},
	}
	for _, tc := range cases {
		if got := RedactText(tc.in); got != tc.want {
			t.Errorf("RedactText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRedactNames checks each credential parameter name, whole and in any
// case, and that longer names merely containing a short one are kept.
func TestRedactNames(t *testing.T) {
	secret := []string{"token", "tok", "access_token", "refresh_token", "id_token", "code", "pin", "otp", "sig", "signature",
		"sdata", "secret", "client_secret", "password", "passwd", "pwd", "pass", "key", "apikey", "api_key", "auth",
		"session", "sessionid", "sid", "jwt", "X-Amz-Signature", "X-Amz-Credential", "X-Goog-Signature"}
	for _, name := range secret {
		for _, n := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:]} {
			t.Run(n, func(t *testing.T) {
				in := "https://x.example/p?a=1&" + n + "=v4lue&b=2"
				want := "https://x.example/p?a=1&" + n + "=REDACTED&b=2"
				if got := RedactURL(in); got != want {
					t.Errorf("RedactURL(%q)\ngot  %q\nwant %q", in, got, want)
				}
			})
		}
	}
	kept := []string{"monkey", "keyboard", "keys", "tokyo", "codec", "zipcode", "pinned", "spin", "signal", "sidebar",
		"inside", "passenger", "compass", "author", "authority", "sessions2", "otpx", "session_count"}
	for _, n := range kept {
		t.Run("kept "+n, func(t *testing.T) {
			in := "https://x.example/p?" + n + "=1"
			if got := RedactURL(in); got != in {
				t.Errorf("RedactURL(%q)\ngot  %q\nwant it unchanged", in, got)
			}
		})
	}
}
