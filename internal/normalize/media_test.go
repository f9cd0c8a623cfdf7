package normalize

import (
	"strings"
	"testing"
)

// mediaIssue is an issue with three attachments (two named alike) whose
// description is desc and whose one comment (id 500) has body comment.
func mediaIssue(desc, comment string) []byte {
	if comment == "" {
		comment = "null"
	}
	return []byte(`{"id":"1","key":"SUP-1","fields":{"created":"2024-01-01T00:00:00.000+0000",
		"attachment":[
		 {"id":"10001","filename":"screen.png","size":1,"created":"2024-01-01T10:00:00.000+0000"},
		 {"id":"10002","filename":"screen.png","size":1,"created":"2024-01-02T10:00:00.000+0000"},
		 {"id":"10003","filename":"Report Q1.PDF","size":1,"created":"2024-01-01T10:00:00.000+0000"},
		 {"id":"10004","filename":"../../etc/passwd","size":1,"created":"2024-01-01T10:00:00.000+0000"}],
		"description":` + desc + `,
		"comment":{"total":1,"comments":[{"id":"500","body":` + comment + `,"created":"2024-01-02T00:00:00.000+0000"}]}}}`)
}

func doc(nodes ...string) string {
	return `{"type":"doc","version":1,"content":[` + strings.Join(nodes, ",") + `]}`
}

func single(attrs string) string {
	return `{"type":"mediaSingle","attrs":{"layout":"center"},"content":[{"type":"media","attrs":` + attrs + `}]}`
}

func TestInlineMediaLinking(t *testing.T) {
	tests := []struct {
		name string
		desc string
		// want: attachment_id/linked_by/filename per row, "-" for NULL
		want []string
	}{
		{"by the attachment id in an external URL",
			doc(single(`{"type":"external","url":"https://acme.atlassian.net/rest/api/3/attachment/content/10003"}`)),
			[]string{"10003/url/Report Q1.PDF"}},
		{"by the id in a web UI URL",
			doc(single(`{"type":"external","url":"https://acme.atlassian.net/secure/attachment/10001/screen.png"}`)),
			[]string{"10001/url/screen.png"}},
		{"by the id in a gateway thumbnail URL",
			doc(single(`{"type":"external","url":"https://api.atlassian.com/ex/jira/abc/rest/api/3/attachment/thumbnail/10003?token=s3cret"}`)),
			[]string{"10003/url/Report Q1.PDF"}},
		{"by a numeric media id",
			doc(`{"type":"mediaGroup","content":[{"type":"media","attrs":{"type":"file","id":"10003","collection":""}}]}`),
			[]string{"10003/id/Report Q1.PDF"}},
		{"by alt: the newest of two attachments of that name",
			doc(single(`{"type":"file","id":"3fcbbbe8-e95e-45d7-8f86-86576cc3d404","collection":"","alt":"screen.png","width":800,"height":600}`)),
			[]string{"10002/filename/screen.png"}},
		{"by alt, ignoring case",
			doc(single(`{"type":"file","id":"6b1f0a36-0000-4000-8000-000000000001","collection":"","alt":"report q1.pdf"}`)),
			[]string{"10003/filename/Report Q1.PDF"}},
		{"by the editor's __fileName when alt is missing",
			doc(`{"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"mediaInline","attrs":{"type":"file","id":"6b1f0a36-0000-4000-8000-000000000002","collection":"","__fileName":"Report Q1.PDF"}}]}`),
			[]string{"10003/filename/Report Q1.PDF"}},
		{"a UUID and an unknown name link nothing",
			doc(single(`{"type":"file","id":"6b1f0a36-0000-4000-8000-000000000003","collection":"","alt":"gone.png"}`)),
			[]string{"-/-/gone.png"}},
		{"a URL naming another issue's attachment links nothing",
			doc(single(`{"type":"external","url":"https://acme.atlassian.net/rest/api/3/attachment/content/99999"}`)),
			[]string{"-/-/-"}},
		{"a URL wins over a misleading alt",
			doc(single(`{"type":"external","url":"https://acme.atlassian.net/secure/attachment/10003/x","alt":"screen.png"}`)),
			[]string{"10003/url/Report Q1.PDF"}},
		{"a hostile name is matched as text, never as a path",
			doc(single(`{"type":"file","id":"u1","alt":"../../etc/passwd"}`),
				single(`{"type":"file","id":"u2","alt":"screen.png'); DROP TABLE issues; --"}`),
				single(`{"type":"file","id":"u3","alt":"screen.png\u0000"}`),
				single(`{"type":"file","id":"u4","alt":"*"}`)),
			[]string{"10004/filename/../../etc/passwd", "-/-/screen.png'); DROP TABLE issues; --", "-/-/screen.png\x00", "-/-/*"}},
		{"attributes of the wrong type are skipped, the node kept",
			doc(single(`{"type":7,"id":{"x":1},"alt":["screen.png"],"url":false}`)),
			[]string{"-/-/-"}},
		{"media in order, mediaSingle, mediaGroup and mediaInline",
			doc(single(`{"type":"file","id":"a","alt":"screen.png"}`),
				`{"type":"mediaGroup","content":[{"type":"media","attrs":{"type":"file","id":"b","alt":"Report Q1.PDF"}},{"type":"media","attrs":{"type":"file","id":"c"}}]}`),
			[]string{"10002/filename/screen.png", "10003/filename/Report Q1.PDF", "-/-/-"}},
		{"a description in wiki markup has no media nodes", `"!screen.png|thumbnail!"`, nil},
		{"no description", `null`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := FromBundle(bundleOf(t, mediaIssue(tc.desc, "")), defaultOpts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range r.InlineMedia {
				if m.CommentID != nil {
					t.Errorf("description media with comment id %s", *m.CommentID)
				}
				got = append(got, orDash(m.AttachmentID)+"/"+orDash(m.LinkedBy)+"/"+orDash(m.Filename))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInlineMediaRows(t *testing.T) {
	desc := doc(single(`{"type":"external","url":"https://u:pw@acme.atlassian.net/secure/attachment/10001/screen.png?token=abc"}`))
	comment := doc(`{"type":"paragraph","content":[{"type":"text","text":"as shown"}]}`,
		single(`{"type":"file","id":"3fcbbbe8-e95e-45d7-8f86-86576cc3d404","collection":"contentId-1","alt":"Report Q1.PDF"}`))
	r, err := FromBundle(bundleOf(t, mediaIssue(desc, comment)), defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.InlineMedia) != 2 {
		t.Fatalf("got %d rows, want 2", len(r.InlineMedia))
	}
	d, c := r.InlineMedia[0], r.InlineMedia[1]
	tests := []struct{ name, got, want string }{
		{"description comment_id", orDash(d.CommentID), "-"},
		{"description node", orDash(d.NodeType) + " " + orDash(d.MediaType), "media external"},
		{"description URL redacted", orDash(d.URL), "https://u:REDACTED@acme.atlassian.net/secure/attachment/10001/screen.png?token=REDACTED"},
		{"comment comment_id", orDash(c.CommentID), "500"},
		{"comment media index", words(c.MediaIndex), "0"},
		{"comment media id and collection", orDash(c.MediaID) + " " + orDash(c.Collection), "3fcbbbe8-e95e-45d7-8f86-86576cc3d404 contentId-1"},
		{"comment link", orDash(c.AttachmentID), "10003"},
		{"issue key", c.IssueKey, "SUP-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}

	// Comments not fetched in full keep the stored rows: the table is
	// unknown, not emptied.
	b := bundleOf(t, mediaIssue(desc, comment))
	b.State.Comments = "partial"
	r, err = FromBundle(b, defaultOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.State("inline_media"); got != Unknown {
		t.Errorf("state with partial comments: got %s, want %s", got, Unknown)
	}
}

// TestInlineMediaRealADF reads the media of Atlassian's own ADF examples.
func TestInlineMediaRealADF(t *testing.T) {
	tests := []struct {
		fixture string
		want    string
	}{
		{"mediaSingle-with-caption__atlaskit_valid_fixture.json", "media/file/1234/SampleCollection"},
		{"mediaGroup-with-multiple-media__atlaskit_valid_fixture.json", "media/file/1234/SampleCollection media/link/1234/SampleCollection"},
		{"mediaInline-with-file-type-attr__atlaskit_valid_fixture.json", "mediaInline/file/3fcbbbe8-e95e-45d7-8f86-86576cc3d404/MediaServicesSample"},
		{"rich_description_many_nodes__jira-cli.json", ""},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			d := readFixture(t, "adf/examples/"+tc.fixture)
			r, err := FromBundle(bundleOf(t, mediaIssue(string(d), "")), defaultOpts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range r.InlineMedia {
				got = append(got, orDash(m.NodeType)+"/"+orDash(m.MediaType)+"/"+orDash(m.MediaID)+"/"+orDash(m.Collection))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
