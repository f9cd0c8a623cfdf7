package normalize

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jiraduck/jiraduck/internal/adf"
)

// How an inline_media row found its attachment.
const (
	LinkedByURL      = "url"
	LinkedByID       = "id"
	LinkedByFilename = "filename"
)

// attachmentPath finds an attachment id in the URLs Jira gives attachments:
// the REST content and thumbnail URLs (also through the cloud gateway), the
// REST metadata URL and the web UI's /secure/attachment/<id>/<name>.
var attachmentPath = regexp.MustCompile(`/(?:rest/api/[23]/attachment/(?:content/|thumbnail/)?|secure/(?:attachment|thumbnail)/)([0-9]+)(?:/|$)`)

// mediaLinker finds the attachment an inline media node shows among the
// issue's attachments.
type mediaLinker struct {
	byID map[string]*Attachment
	// byName and byFold hold, per file name and per case-folded file name,
	// the attachments of that name, newest first.
	byName, byFold map[string][]*Attachment
}

func newMediaLinker(atts []Attachment) *mediaLinker {
	l := &mediaLinker{byID: map[string]*Attachment{}, byName: map[string][]*Attachment{}, byFold: map[string][]*Attachment{}}
	for k := range atts {
		a := &atts[k]
		l.byID[a.AttachmentID] = a
		if a.Filename != nil && *a.Filename != "" {
			l.byName[*a.Filename] = append(l.byName[*a.Filename], a)
			fold := strings.ToLower(*a.Filename)
			l.byFold[fold] = append(l.byFold[fold], a)
		}
	}
	for _, m := range []map[string][]*Attachment{l.byName, l.byFold} {
		for _, list := range m {
			sort.SliceStable(list, func(i, j int) bool { return newer(list[i], list[j]) })
		}
	}
	return l
}

// newer orders attachments of one name: the latest upload is the one a
// document that names the file most likely shows (Jira's editor uploads a
// pasted image anew, under the name it had); ties go to the higher id.
func newer(a, b *Attachment) bool {
	switch {
	case a.CreatedAt != nil && b.CreatedAt != nil && !a.CreatedAt.Equal(*b.CreatedAt):
		return a.CreatedAt.After(*b.CreatedAt)
	case (a.CreatedAt == nil) != (b.CreatedAt == nil):
		return a.CreatedAt != nil
	}
	ai, aerr := strconv.ParseInt(a.AttachmentID, 10, 64)
	bi, berr := strconv.ParseInt(b.AttachmentID, 10, 64)
	if aerr == nil && berr == nil {
		return ai > bi
	}
	return a.AttachmentID > b.AttachmentID
}

// link returns the attachment a media node shows and how it was found. The
// id in a URL or a numeric node id names one attachment for certain; a file
// name is the fallback, exact first, then ignoring case.
func (l *mediaLinker) link(m adf.Media) (*Attachment, string) {
	if m.URL != "" {
		if u, err := url.Parse(m.URL); err == nil {
			if g := attachmentPath.FindStringSubmatch(u.Path); g != nil {
				if a, ok := l.byID[g[1]]; ok {
					return a, LinkedByURL
				}
			}
		}
	}
	if m.ID != "" && isDigits(m.ID) {
		if a, ok := l.byID[m.ID]; ok {
			return a, LinkedByID
		}
	}
	if m.Alt != "" {
		if list := l.byName[m.Alt]; len(list) > 0 {
			return list[0], LinkedByFilename
		}
		if list := l.byFold[strings.ToLower(m.Alt)]; len(list) > 0 {
			return list[0], LinkedByFilename
		}
	}
	return nil, ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// inlineMedia fills the inline_media rows from the media of the description
// and of each comment (in the order of r.Comments), once the attachment
// rows are known.
func (r *Rows) inlineMedia(description []adf.Media, comments [][]adf.Media) {
	// Most issues show no media: their attachments are not indexed.
	var linker *mediaLinker
	add := func(commentID *string, media []adf.Media) {
		if len(media) == 0 {
			return
		}
		if linker == nil {
			linker = newMediaLinker(r.Attachments)
		}
		r.mediaRows(linker, commentID, media)
	}
	add(nil, description)
	for n, media := range comments {
		id := r.Comments[n].CommentID
		add(&id, media)
	}
}

// mediaRows appends the inline_media rows of the media of one document: the
// description (commentID nil) or a comment's body.
func (r *Rows) mediaRows(l *mediaLinker, commentID *string, media []adf.Media) {
	for idx, m := range media {
		row := InlineMedia{IssueKey: r.Issue.IssueKey, CommentID: commentID, MediaIndex: int32(idx),
			NodeType: opt(m.Node), MediaType: opt(m.Type), MediaID: opt(m.ID), Collection: opt(m.Collection),
			URL: opt(m.URL), Alt: opt(m.Alt), Filename: opt(m.Alt)}
		if a, by := l.link(m); a != nil {
			row.AttachmentID, row.Filename, row.LinkedBy = opt(a.AttachmentID), a.Filename, opt(by)
		}
		r.InlineMedia = append(r.InlineMedia, row)
	}
}
