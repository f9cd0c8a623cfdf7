package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Attachments are served like Jira Cloud serves them: the REST content URL
// answers 303 with a short-lived token to a media URL, which serves the bytes
// without looking at credentials. Here the media URL is on the emulator
// itself, under /_media/.

// attachmentOf finds an attachment by id and the issue it belongs to.
func (s *site) attachmentOf(idText string) (*issueView, *Attachment, bool) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return nil, nil, false
	}
	s.mu.RLock()
	idx, ok := s.attIndex[id]
	var key string
	if ok {
		key = strconv.FormatInt(s.recs[idx].id, 10)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, nil, false
	}
	iv, err := s.view(key)
	if err != nil {
		return nil, nil, false
	}
	i := iv.is.attachment(idText)
	if i < 0 {
		return nil, nil, false
	}
	return iv, &iv.is.Attachments[i], true
}

func attachmentMissing(id string) []byte {
	return errorBody("The attachment with id '" + id + "' does not exist")
}

func (s *site) attachmentMeta(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	iv, a, ok := s.attachmentOf(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, attachmentMissing(id))
		return
	}
	v := s.newView(r)
	v.zone = iv.zone
	var e enc
	v.writeAttachment(&e, *a, true)
	writeJSON(w, http.StatusOK, e.b)
}

func (s *site) attachmentContent(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	_, a, ok := s.attachmentOf(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, attachmentMissing(id))
		return
	}
	if r.URL.Query().Get("redirect") == "false" {
		s.serveAttachment(w, r, a)
		return
	}
	exp := s.now().Add(s.opts.MediaTokenTTL).UnixMilli()
	q := url.Values{"token": {s.mediaToken(a.ID, exp)}, "name": {a.Filename}}
	w.Header().Set("Location", info(r).site+"/_media/file/"+a.ID+"?"+q.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

// mediaToken is "<expiry millis>.<hex HMAC of id and expiry>".
func (s *site) mediaToken(id string, exp int64) string {
	mac := hmac.New(sha256.New, s.mediaKey)
	mac.Write([]byte(id + "|" + strconv.FormatInt(exp, 10)))
	return strconv.FormatInt(exp, 10) + "." + hex.EncodeToString(mac.Sum(nil))
}

func (s *site) checkMediaToken(id, token string) bool {
	expText, _, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || s.now().UnixMilli() > exp {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.mediaToken(id, exp)))
}

func (s *site) media(w http.ResponseWriter, r *http.Request) {
	s.stats.call(EndpointMedia)
	id := mux.Vars(r)["id"]
	if !s.checkMediaToken(id, r.URL.Query().Get("token")) {
		writeJSON(w, http.StatusUnauthorized, []byte(`{"error":{"code":"Unauthorized","title":"Missing or expired token"}}`))
		return
	}
	_, a, ok := s.attachmentOf(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, []byte(`{"error":{"code":"NotFound","title":"File not found"}}`))
		return
	}
	s.serveAttachment(w, r, a)
}

func (s *site) serveAttachment(w http.ResponseWriter, r *http.Request, a *Attachment) {
	id, _ := strconv.ParseInt(a.ID, 10, 64)
	s.mu.RLock()
	data, uploaded := s.attData[id]
	s.mu.RUnlock()
	h := w.Header()
	h.Set("Content-Type", a.MimeType)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	h.Set("Cache-Control", "private, max-age=0")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if uploaded {
		w.Write(data)
		return
	}
	io.Copy(w, io.LimitReader(s.content(id, a.MimeType), a.Size))
}

// content returns the endless deterministic byte stream an attachment's
// content is cut from: text for text types, random bytes behind the right
// magic number for the others.
func (s *site) content(id int64, mimeType string) io.Reader {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(s.opts.Seed))
	binary.LittleEndian.PutUint64(seed[8:], uint64(id))
	if strings.HasPrefix(mimeType, "text/") || mimeType == "application/json" {
		return &textStream{rng: rand.New(rand.NewPCG(uint64(s.opts.Seed), uint64(id))), json: mimeType == "application/json"}
	}
	var magic []byte
	switch mimeType {
	case "image/png":
		magic = []byte("\x89PNG\r\n\x1a\n")
	case "image/jpeg":
		magic = []byte("\xff\xd8\xff\xe0")
	case "application/pdf":
		magic = []byte("%PDF-1.7\n")
	case "application/vnd.tcpdump.pcap":
		magic = []byte("\xd4\xc3\xb2\xa1")
	}
	return io.MultiReader(bytes.NewReader(magic), rand.NewChaCha8(seed))
}

// textStream writes numbered log-like lines forever.
type textStream struct {
	rng  *rand.Rand
	json bool
	buf  []byte
	line int
}

// Read implements io.Reader; it never ends.
func (t *textStream) Read(p []byte) (int, error) {
	for len(t.buf) < len(p) {
		t.line++
		ts := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(t.line) * time.Second).Format(time.RFC3339)
		if t.json {
			t.buf = append(t.buf, `{"line":`+strconv.Itoa(t.line)+`,"time":"`+ts+`","message":"`+sentence(t.rng)+`"}`+"\n"...)
		} else {
			t.buf = append(t.buf, ts+" "+sentence(t.rng)+"\n"...)
		}
	}
	n := copy(p, t.buf)
	t.buf = t.buf[n:]
	return n, nil
}
