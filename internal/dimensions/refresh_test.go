package dimensions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/store"
)

const (
	testEmail = "sync@example.test"
	testToken = "token"
)

// openStore opens a migrated store in the test's folder with its writer.
func openStore(t *testing.T) (*store.Store, *store.Writer) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := s.NewWriter(16, nil)
	t.Cleanup(func() {
		w.Close()
		s.Close()
	})
	return s, w
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{BaseURL: url, Email: testEmail, APIToken: testToken, MaxAttempts: 2,
		BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startEmulator(t *testing.T, issues int) (*emulator.Emulator, string) {
	t.Helper()
	em, err := emulator.New(emulator.Options{Issues: issues, Seed: 7, Email: testEmail, APIToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	url, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return em, url
}

func outcomes(res Result) map[string]string {
	out := map[string]string{}
	for _, t := range res.Tables {
		out[t.Table] = t.Outcome
	}
	return out
}

func clearDirty(t *testing.T, s *store.Store) {
	t.Helper()
	if _, err := s.DB().Exec(`DELETE FROM dirty_partitions`); err != nil {
		t.Fatal(err)
	}
}

func dirtyTables(t *testing.T, s *store.Store) []string {
	t.Helper()
	dirty, err := s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirty {
		if d.Month == "" {
			out = append(out, d.Table)
		}
	}
	slices.Sort(out)
	return out
}

// TestRefreshPlatformFromEmulator: a refresh fills every platform table
// from the emulator; the same answer again rewrites nothing; a version
// added changes the versions table alone.
func TestRefreshPlatformFromEmulator(t *testing.T) {
	ctx := context.Background()
	em, url := startEmulator(t, 40)
	s, w := openStore(t)
	r := NewRefresher(Deps{Client: newClient(t, url), Store: s, Writer: w}, platformSources())
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Tables {
		if tr.Outcome != OutcomeChanged || tr.Rows == 0 {
			t.Errorf("%s: got %s with %d rows, want changed with rows", tr.Table, tr.Outcome, tr.Rows)
		}
		n, err := s.DimensionRowCount(ctx, tr.Table)
		if err != nil || n != int64(tr.Rows) {
			t.Errorf("%s: got %d rows stored (%v), want %d", tr.Table, n, err, tr.Rows)
		}
	}
	if got := len(dirtyTables(t, s)); got != len(platformSources()) {
		t.Errorf("got %d dirty dimension files, want %d", got, len(platformSources()))
	}

	clearDirty(t, s)
	res, err = r.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, o := range outcomes(res) {
		if o != OutcomeUnchanged {
			t.Errorf("second refresh: %s %s, want unchanged", table, o)
		}
	}
	if got := dirtyTables(t, s); len(got) != 0 {
		t.Errorf("second refresh: got dirty files %v, want none", got)
	}

	before, _ := s.DimensionRowCount(ctx, "versions")
	if _, err := em.Silent().AddVersion("OPS", "9.9", "2030-01-31"); err != nil {
		t.Fatal(err)
	}
	res, err = r.Refresh(ctx, "versions", "projects")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res); got["versions"] != OutcomeChanged || got["projects"] != OutcomeUnchanged {
		t.Errorf("after a version was added: got %v, want versions changed, projects unchanged", got)
	}
	after, _ := s.DimensionRowCount(ctx, "versions")
	if after != before+1 {
		t.Errorf("got %d versions, want %d", after, before+1)
	}
	var released bool
	var due time.Time
	if err := s.DB().QueryRow(`SELECT released, release_date FROM dim_versions WHERE name = '9.9'`).Scan(&released, &due); err != nil {
		t.Fatal(err)
	}
	if released || due.Format(time.DateOnly) != "2030-01-31" {
		t.Errorf("got released %v, release date %v; want unreleased, 2030-01-31", released, due)
	}
	if got := dirtyTables(t, s); !slices.Equal(got, []string{"versions"}) {
		t.Errorf("got dirty files %v, want versions only", got)
	}
}

// TestRefreshResolvesReferencedUsers: an account issue-level tables name
// that users/search does not list (a service desk customer) is looked up
// by id; one Jira does not know is counted as unresolved.
func TestRefreshResolvesReferencedUsers(t *testing.T) {
	ctx := context.Background()
	em, url := startEmulator(t, 0)
	s, w := openStore(t)
	var customer string
	for _, u := range em.Users() {
		if u.AccountType == "customer" {
			customer = u.AccountID
			break
		}
	}
	if customer == "" {
		t.Fatal("the emulator has no customer account")
	}
	if _, err := s.DB().Exec(`INSERT INTO comments (comment_id, issue_key, author_account_id) VALUES ('1', 'SUP-1', ?), ('2', 'SUP-1', 'unknown-account')`, customer); err != nil {
		t.Fatal(err)
	}
	r := NewRefresher(Deps{Client: newClient(t, url), Store: s, Writer: w}, []Source{users()})
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr := res.Tables[0]; tr.Resolved != 1 || tr.Unresolved != 1 {
		t.Errorf("got %d resolved, %d unresolved; want 1 and 1", tr.Resolved, tr.Unresolved)
	}
	var typ string
	if err := s.DB().QueryRow(`SELECT account_type FROM dim_users WHERE account_id = ?`, customer).Scan(&typ); err != nil || typ != "customer" {
		t.Errorf("got account type %q (%v), want the customer in users", typ, err)
	}
}

// fakeAPI serves a list of objects at one path, or a status instead.
type fakeAPI struct {
	mu      sync.Mutex
	objects []string
	status  int
}

func (f *fakeAPI) set(status int, objects ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.objects = status, objects
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != http.StatusOK {
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `{"errorMessages":["status %d"],"errors":{}}`, f.status)
		return
	}
	fmt.Fprintf(w, `{"startAt":0,"maxResults":50,"isLast":true,"values":[%s]}`, strings.Join(f.objects, ","))
}

// thingSource is a table of a product of its own, served by a fakeAPI.
func thingSource(product Product) Source {
	return Source{
		Table:   "things",
		Columns: []Column{{"id", "VARCHAR"}, {"name", "VARCHAR"}},
		Key:     []string{"id"},
		Product: product,
		Fetch: func(ctx context.Context, c *client.Client) ([]Object, error) {
			raws, err := c.PagedValues(ctx, "things", "/rest/things", nil, 50)
			if err != nil {
				return nil, err
			}
			return byID("things", raws)
		},
		Row: func(o Object) ([]any, error) {
			var v struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(o.Payload, &v); err != nil {
				return nil, err
			}
			if v.Name == "" {
				return nil, errors.New("things " + o.ID + ": no name")
			}
			return []any{v.ID, v.Name}, nil
		},
	}
}

// TestRefreshOutcomes: a product that answers 403 or 404 is skipped with a
// note and no error; another failure keeps the stored table and counts; an
// object whose row cannot be derived is kept as an object, with a note;
// an object gone from Jira's answer leaves the table.
func TestRefreshOutcomes(t *testing.T) {
	ctx := context.Background()
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	s, w := openStore(t)
	r := NewRefresher(Deps{Client: newClient(t, srv.URL), Store: s, Writer: w}, []Source{thingSource(Software)})
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		status      int
		objects     []string
		wantOutcome string
		wantErr     bool
		wantRows    int64
		wantStatus  string
		wantNote    string
	}{
		{"404: the site has no such product", http.StatusNotFound, nil, OutcomeSkipped, false, 0, store.DimensionSkipped, "Jira Software's API answered 404"},
		{"403 too", http.StatusForbidden, nil, OutcomeSkipped, false, 0, store.DimensionSkipped, "403 Forbidden"},
		{"three objects", http.StatusOK, []string{`{"id":"1","name":"a"}`, `{"id":"2","name":"b"}`, `{"id":"3","name":"c"}`}, OutcomeChanged, false, 3, store.DimensionOK, ""},
		{"503: the stored table is kept", http.StatusServiceUnavailable, nil, OutcomeFailed, true, 3, store.DimensionFailed, "refresh failed"},
		{"one gone, one unreadable", http.StatusOK, []string{`{"id":"1","name":"a"}`, `{"id":"2"}`}, OutcomeChanged, false, 1, store.DimensionOK, "1 object(s) could not be read"},
	}
	for _, st := range steps {
		api.set(st.status, st.objects...)
		res, err := r.Refresh(ctx)
		if (err != nil) != st.wantErr {
			t.Errorf("%s: got error %v, want error %v", st.name, err, st.wantErr)
		}
		if got := res.Tables[0].Outcome; got != st.wantOutcome {
			t.Errorf("%s: got %s, want %s", st.name, got, st.wantOutcome)
		}
		n, _ := s.DimensionRowCount(ctx, "things")
		if n != st.wantRows {
			t.Errorf("%s: got %d rows, want %d", st.name, n, st.wantRows)
		}
		states, _ := s.DimensionStates(ctx)
		if got := states["things"]; got.Status != st.wantStatus || !strings.Contains(got.Note, st.wantNote) {
			t.Errorf("%s: got status %s note %q, want %s with %q", st.name, got.Status, got.Note, st.wantStatus, st.wantNote)
		}
	}
	stored, _ := s.DimensionObjects(ctx, "things")
	if len(stored) != 2 {
		t.Errorf("got %d objects stored, want 2 (the unreadable one kept)", len(stored))
	}
}

// TestRederive derives a table again from its stored objects without
// calling Jira, and marks its file; a table never fetched is left alone.
func TestRederive(t *testing.T) {
	ctx := context.Background()
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	s, w := openStore(t)
	r := NewRefresher(Deps{Client: newClient(t, srv.URL), Store: s, Writer: w}, []Source{thingSource(Platform), statuses()})
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	api.set(http.StatusOK, `{"id":"1","name":"a"}`, `{"id":"2","name":"b"}`)
	if _, err := r.Refresh(ctx, "things"); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := s.DB().Exec(`DELETE FROM dim_things`); err != nil {
		t.Fatal(err)
	}
	clearDirty(t, s)
	res, err := r.Rederive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res); len(got) != 1 || got["things"] != OutcomeChanged {
		t.Errorf("got %v, want things re-derived and statuses (never fetched) left", got)
	}
	if n, _ := s.DimensionRowCount(ctx, "things"); n != 2 {
		t.Errorf("got %d rows, want 2", n)
	}
	if got := dirtyTables(t, s); !slices.Equal(got, []string{"things"}) {
		t.Errorf("got dirty files %v, want things", got)
	}
}

// TestDigestsTellValuesApart: rows that differ in any value, or only in a
// value's type, digest differently; the same rows in another order do not.
func TestDigestsTellValuesApart(t *testing.T) {
	src := thingSource(Platform)
	base := rowsDigest(src, [][]any{{"1", "a"}, {"2", "b"}})
	for name, rows := range map[string][][]any{
		"value":  {{"1", "a"}, {"2", "c"}},
		"null":   {{"1", "a"}, {"2", nil}},
		"split":  {{"1", "a"}, {"2b", ""}},
		"number": {{"1", "a"}, {"2", int64(0)}},
	} {
		if rowsDigest(src, rows) == base {
			t.Errorf("%s: same digest as the base rows", name)
		}
	}
	a := objectsDigest([]Object{{ID: "1", Payload: []byte("x")}, {ID: "2", Payload: []byte("y")}})
	b := objectsDigest([]Object{{ID: "2", Payload: []byte("y")}, {ID: "1", Payload: []byte("x")}})
	if a != b {
		t.Error("objects in another order digest differently")
	}
}
