package emulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// Defaults of Options and of the emulator command.
const (
	DefaultListen   = "127.0.0.1:9090"
	DefaultIssues   = 1000
	DefaultMonths   = 24
	DefaultSeed     = 1
	defaultAgents   = 16
	defaultCustomer = 14
)

// DefaultProjects are the project keys generated when Options.Projects is
// empty, comma-separated: a service project and a software project.
const DefaultProjects = "SUP,OPS"

// defaultNow is the reference time of generated data when Options.Now is zero.
// It is fixed, so that a seed always gives the same site.
var defaultNow = time.Date(2025, time.June, 30, 12, 0, 0, 0, time.UTC)

// Errors of the Go API; the admin API answers them with 404 and 400. They
// are the error kinds of those names, so that their texts stay "not found"
// and "invalid".
var (
	ErrNotFound error = errkind.NotFound
	ErrInvalid  error = errkind.Invalid
)

// Options configure an emulator. Zero values take the defaults noted.
type Options struct {
	// Issues is how many issues are generated at start; zero starts an
	// empty site.
	Issues int
	// Months is how far back before Now issues are spread (default 24).
	Months int
	// Seed makes everything generated reproducible: the same Seed and Now
	// give byte-identical answers.
	Seed int64
	// Projects are the project keys (default SUP, OPS). The first is a Jira
	// Service Management project with request types and SLA fields.
	Projects []string
	// Now is the reference time generated data ends at (default
	// 2025-06-30T12:00:00Z). The emulator's clock starts there and runs
	// with the wall clock (or Clock).
	Now time.Time
	// Clock replaces the wall clock as the source of elapsed time; tests
	// freeze it to get identical SLA values.
	Clock func() time.Time
	// BaseURL is the site URL written into self links; empty means the
	// scheme and host each request came to.
	BaseURL string
	// CloudID is the site id of the cloud gateway prefix; derived from the
	// seed when empty.
	CloudID string
	// IDBase is the first id of everything created after start: issues,
	// comments, changelog entries, worklogs, attachments, remote links and
	// issue links; webhook delivery ids are drawn from the seed and IDBase.
	// The generated site does not depend on it. Zero takes the microseconds
	// since 2020 at New: an emulator started again with the same seed
	// against a store that holds what the previous start created then never
	// gives a stored id to something new (a start would have to create more
	// than one thing a microsecond to catch up with the next), and ids keep
	// growing as Jira's do. Tests set it to get exact ids; it must lie above
	// the generated ids.
	IDBase int64

	// Email and APIToken are the basic-auth credentials the REST API
	// accepts. With Email empty every request is accepted.
	Email    string
	APIToken string
	// SLAEmail and SLAAPIToken are an optional second account. When set,
	// SLA fields are visible only to it; the main account's issues lack
	// them, as for an account without a Jira Service Management licence.
	SLAEmail    string
	SLAAPIToken string

	// WebhookURL receives the webhooks of mutations; none are sent when
	// empty.
	WebhookURL string
	// WebhookSecret signs each body as X-Hub-Signature: sha256=<hex>.
	WebhookSecret string
	// WebhookQueue bounds the deliveries waiting to be sent (default 4096);
	// a mutation blocks while the queue is full.
	WebhookQueue int
	// WebhookWorkers is how many deliveries are in flight at once
	// (default 4).
	WebhookWorkers int
	// WebhookRetries is how many times a failed delivery is retried
	// (default 5), WebhookBackoff the first wait (default 200ms, doubling).
	WebhookRetries int
	WebhookBackoff time.Duration
	// WebhookTimeout bounds one delivery attempt (default 10s).
	WebhookTimeout time.Duration

	// MediaTokenTTL is how long an attachment redirect stays valid on the
	// emulator's clock (default 5m).
	MediaTokenTTL time.Duration

	// Faults are injected into REST answers and webhook deliveries; they
	// can be changed at run time with SetFaults.
	Faults Faults

	// WithoutSoftware and WithoutServiceManagement make a site without
	// Jira Software (no boards, sprints or sprint field) or without Jira
	// Service Management's organizations, service desks and request type
	// list: their REST APIs answer 404 (see agile.go).
	WithoutSoftware          bool
	WithoutServiceManagement bool

	// Logger receives delivery failures and server errors.
	Logger logrus.FieldLogger
}

var projectKeyRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}$`)

func (o *Options) setDefaults() error {
	if o.Issues < 0 {
		return fmt.Errorf("%w options: issues %d is negative", ErrInvalid, o.Issues)
	}
	if o.Months == 0 {
		o.Months = DefaultMonths
	}
	if o.Months < 1 || o.Months > 240 {
		return fmt.Errorf("%w options: months %d outside 1..240", ErrInvalid, o.Months)
	}
	if len(o.Projects) == 0 {
		o.Projects = strings.Split(DefaultProjects, ",")
	}
	seen := map[string]bool{}
	for _, p := range o.Projects {
		if !projectKeyRe.MatchString(p) {
			return fmt.Errorf("%w options: project key %q", ErrInvalid, p)
		}
		if seen[p] {
			return fmt.Errorf("%w options: project %s twice", ErrInvalid, p)
		}
		seen[p] = true
	}
	if o.IDBase < 0 {
		return fmt.Errorf("%w options: id base %d is negative", ErrInvalid, o.IDBase)
	}
	if o.IDBase == 0 {
		o.IDBase = time.Since(idEpoch).Microseconds()
	}
	if o.Now.IsZero() {
		o.Now = defaultNow
	}
	o.Now = ms(o.Now).UTC()
	if (o.SLAEmail == "") != (o.SLAAPIToken == "") {
		return fmt.Errorf("%w options: set both SLA email and SLA token or neither", ErrInvalid)
	}
	if o.WebhookQueue <= 0 {
		o.WebhookQueue = 4096
	}
	if o.WebhookWorkers <= 0 {
		o.WebhookWorkers = 4
	}
	if o.WebhookRetries < 0 {
		o.WebhookRetries = 0
	} else if o.WebhookRetries == 0 {
		o.WebhookRetries = 5
	}
	if o.WebhookBackoff <= 0 {
		o.WebhookBackoff = 200 * time.Millisecond
	}
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = 10 * time.Second
	}
	if o.MediaTokenTTL <= 0 {
		o.MediaTokenTTL = 5 * time.Minute
	}
	if o.BaseURL != "" {
		o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	}
	if o.Logger == nil {
		o.Logger = logx.Discard()
	}
	return o.Faults.check()
}

// Emulator is a local Jira Cloud site: the REST API jiraduck reads, signed
// webhooks for every change, fault injection and an admin API. Create one
// with New and release it with Close. It is safe for concurrent use.
//
// An Emulator value is a handle on the site; Silent returns another handle
// on the same site whose changes send no webhook.
type Emulator struct {
	s      *site
	silent bool
	as     string
}

// site holds the state shared by every handle.
type site struct {
	opts      Options
	log       logrus.FieldLogger
	clock     *clock
	docs      *docSource
	cloudID   string
	mediaKey  []byte
	users     []User
	userIdx   map[string]int
	agents    []int
	customers []int
	// mainUser and slaUser are the accounts of the configured credentials.
	mainUser, slaUser string
	now0              time.Time

	mu       sync.RWMutex
	projects []*project
	recs     []*rec
	// generated is how many issues were generated at start.
	generated int32
	// issueBase is the id of the first issue created after start.
	issueBase int64
	byKey     map[string]int32
	links     map[int64]*link
	attIndex  map[int64]int32
	attData   map[int64][]byte
	next      struct{ comment, history, attachment, remote, worklog, link int64 }
	// worklogIdx finds every worklog's issue; worklogGone lists the
	// deleted ones (see worklog.go).
	worklogIdx  map[int64]worklogEntry
	worklogGone []worklogChange

	// agile holds the boards, sprints and organizations (agile.go).
	agile *agile
	// plat holds what the admin API changed of the site's other objects
	// (platform.go).
	plat platformState

	faults  *faultState
	stats   *stats
	hooks   *webhooks
	handler http.Handler

	srvMu  sync.Mutex
	server *http.Server
	url    string
	closed atomic.Bool
}

// rec is the compact record every issue keeps. Issues nobody changed since
// start have no stored state beyond it (full is nil) and are generated again
// from seed when rendered.
type rec struct {
	idx      int32
	id       int64
	key      string
	proj     *project
	num      int
	seed     uint64
	zone     zone
	big      bigKind
	subtask  bool
	created  time.Time
	updated  time.Time
	summary  string
	status   *statusDef
	priority *priorityDef
	itype    *issueTypeDef
	parent   int32
	subtasks []int32
	links    []int64
	bases    [5]int64
	// worklogs are the ids of the issue's worklogs as last synced.
	worklogs []int64
	// genEstimate and genSpent are the generated issue's estimate and work
	// logged: a parent's aggregate time fields add them up without
	// generating its sub-tasks again.
	genEstimate, genSpent time.Duration
	full                  *Issue
	deleted               bool
	fetches               atomic.Int64
}

// link is an issue link: src is the issue that, for Blocks, blocks dst.
type link struct {
	id   int64
	typ  *linkTypeDef
	src  int32
	dst  int32
	made time.Time
}

const firstIssueID = 10000

// New generates the site and starts its webhook delivery.
func New(opts Options) (*Emulator, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &site{
		opts:     opts,
		log:      opts.Logger.WithField("component", "emulator"),
		clock:    newClock(opts.Now, opts.Clock),
		now0:     opts.Now,
		byKey:    map[string]int32{},
		links:    map[int64]*link{},
		attIndex: map[int64]int32{},
		attData:  map[int64][]byte{},
		userIdx:  map[string]int{},
		stats:    newStats(),

		worklogIdx: map[int64]worklogEntry{},
	}
	seed := uint64(opts.Seed)
	rng := rand.New(rand.NewPCG(seed, 0x656d75))
	s.users = newUsers(rng, defaultAgents, defaultCustomer)
	for i, u := range s.users {
		s.userIdx[u.AccountID] = i
		if u.AccountType == "customer" {
			s.customers = append(s.customers, i)
		} else {
			s.agents = append(s.agents, i)
		}
	}
	s.docs = &docSource{users: s.users[:defaultAgents]}
	for i, key := range opts.Projects {
		s.projects = append(s.projects, newProject(i, key, i == 0, opts.Now, opts.Months))
	}
	s.next.comment, s.next.history, s.next.attachment = 10000, 10000, 10000
	s.next.remote, s.next.worklog, s.next.link = 10000, 10000, 10000
	s.agile = newAgile(s.projects, opts.Now, opts.Months, &opts)
	s.generate(rng, opts.Issues)
	if err := s.startIDs(opts.IDBase); err != nil {
		return nil, err
	}

	// Everything below draws from separate streams, so that credentials
	// and faults never change the generated data.
	aux := rand.New(rand.NewPCG(seed, 0x617578))
	s.cloudID = opts.CloudID
	if s.cloudID == "" {
		s.cloudID = uuid(aux)
	}
	s.mediaKey = []byte(uuid(aux) + uuid(aux))
	if opts.Email != "" {
		s.mainUser = s.addAccount(aux, "Jira Sync", opts.Email)
	}
	if opts.SLAEmail != "" {
		s.slaUser = s.addAccount(aux, "JSM Agent Sync", opts.SLAEmail)
	}
	s.faults = newFaultState(opts.Faults, seed)
	s.hooks = newWebhooks(s)
	s.handler = s.routes()
	return &Emulator{s: s}, nil
}

// idEpoch is the origin of the default IDBase.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// startIDs makes everything created after start count its ids from base, above
// every generated id, so that the ids of one start's creations never meet
// another's.
func (s *site) startIDs(base int64) error {
	top := max(firstIssueID+int64(s.generated), s.next.comment, s.next.history, s.next.attachment,
		s.next.remote, s.next.worklog, s.next.link)
	if base < top {
		return fmt.Errorf("%w options: id base %d is not above the generated ids (up to %d)", ErrInvalid, base, top-1)
	}
	s.issueBase = base
	s.next.comment, s.next.history, s.next.attachment = base, base, base
	s.next.remote, s.next.worklog, s.next.link = base, base, base
	return nil
}

func (s *site) addAccount(rng *rand.Rand, name, email string) string {
	u := User{AccountID: "712020:" + uuid(rng), Email: email, DisplayName: name, TimeZone: "Etc/UTC", Active: true, AccountType: "atlassian"}
	s.users = append(s.users, u)
	s.userIdx[u.AccountID] = len(s.users) - 1
	return u.AccountID
}

// generate creates the site's issues: created times rise with the index and
// are spread over Months before Now, keys are numbered per project, and a few
// issues are sub-tasks of a recent issue of their project.
func (s *site) generate(rng *rand.Rand, n int) {
	s.recs = make([]*rec, 0, n)
	span := s.now0.Sub(s.now0.AddDate(0, -s.opts.Months, 0))
	start := s.now0.Add(-span)
	recent := make(map[*project][]int32)
	for i := range n {
		p := s.projects[0]
		if len(s.projects) > 1 {
			// The service project takes about half the issues.
			if j := rng.IntN(2 * (len(s.projects) - 1)); j >= len(s.projects)-1 {
				p = s.projects[1+j-(len(s.projects)-1)]
			}
		}
		offset := (float64(i) + rng.Float64()) / float64(n)
		r := &rec{
			idx:     int32(i),
			id:      firstIssueID + int64(i),
			proj:    p,
			num:     p.next,
			seed:    rng.Uint64(),
			created: ms(start.Add(time.Duration(offset * float64(span)))),
			parent:  -1,
		}
		p.next++
		r.key = p.key + "-" + strconv.Itoa(r.num)
		r.zone = zone(r.seed % uint64(numZones))
		switch {
		case i == 1 || rng.IntN(2000) == 0:
			r.big = bigComments
		case i == 2 || rng.IntN(2000) == 0:
			r.big = bigHistories
		}
		if cand := recent[p]; len(cand) > 0 && r.big == bigNone && rng.IntN(100) < 8 {
			parent := cand[rng.IntN(len(cand))]
			r.parent, r.subtask = parent, true
			s.recs[parent].subtasks = append(s.recs[parent].subtasks, r.idx)
		} else {
			recent[p] = append(recent[p], r.idx)
			if len(recent[p]) > 50 {
				recent[p] = recent[p][1:]
			}
		}
		r.bases = [5]int64{s.next.comment, s.next.history, s.next.attachment, s.next.remote, s.next.worklog}
		is := s.genIssue(s.genInput(r))
		r.genEstimate, r.genSpent = is.OriginalEstimate, totalSpent(is.Worklogs)
		s.next.comment += int64(len(is.Comments))
		s.next.history += int64(len(is.Histories))
		s.next.attachment += int64(len(is.Attachments))
		s.next.remote += int64(len(is.RemoteLinks))
		s.next.worklog += int64(len(is.Worklogs))
		for _, a := range is.Attachments {
			id, _ := strconv.ParseInt(a.ID, 10, 64)
			s.attIndex[id] = r.idx
		}
		s.sync(r, is)
		s.recs = append(s.recs, r)
		s.byKey[r.key] = r.idx
	}
	s.generated = int32(n)
	// Links between issues, mostly close in time, in both directions.
	for i := range n {
		if rng.IntN(100) >= 20 {
			continue
		}
		for range 1 + rng.IntN(2) {
			j := i - 1 - rng.IntN(min(i, 300)+1)
			if j < 0 || j == i {
				continue
			}
			src, dst := int32(i), int32(j)
			if rng.IntN(2) == 0 {
				src, dst = dst, src
			}
			l := &link{id: s.next.link, typ: linkTypes[weighted(rng, 40, 10, 15, 35)], src: src, dst: dst, made: s.recs[i].created}
			s.next.link++
			s.links[l.id] = l
			s.recs[src].links = append(s.recs[src].links, l.id)
			s.recs[dst].links = append(s.recs[dst].links, l.id)
		}
	}
}

func (s *site) genInput(r *rec) genInput {
	return genInput{idx: int(r.idx), id: r.id, key: r.key, proj: r.proj, created: r.created, seed: r.seed,
		subtask: r.subtask, big: r.big, cbase: r.bases[0], hbase: r.bases[1], abase: r.bases[2], rbase: r.bases[3], wbase: r.bases[4]}
}

// sync copies what other issues, search and stats read into the record.
func (s *site) sync(r *rec, is *Issue) {
	r.updated = is.Updated
	r.summary = is.Summary
	r.status = findStatus(is.Status)
	r.priority = findPriority(is.Priority)
	r.itype = findIssueType(is.Type)
	s.syncWorklogs(r, is)
}

// issue returns the full state of an issue: the stored one, or the issue
// generated again from its seed. The result must not be changed.
func (s *site) issue(r *rec) *Issue {
	if r.full != nil {
		return r.full
	}
	return s.genIssue(s.genInput(r))
}

func (s *site) user(accountID string) *User {
	if i, ok := s.userIdx[accountID]; ok {
		return &s.users[i]
	}
	return s.addedUser(accountID)
}

func (s *site) projectByKey(key string) *project {
	for _, p := range s.projects {
		if p.key == key {
			return p
		}
	}
	return nil
}

// lookup resolves an issue key (current or former) or id; the caller holds
// s.mu.
func (s *site) lookup(keyOrID string) *rec {
	if keyOrID == "" {
		return nil
	}
	if keyOrID[0] >= '0' && keyOrID[0] <= '9' {
		id, err := strconv.ParseInt(keyOrID, 10, 64)
		if err != nil {
			return nil
		}
		idx, ok := s.indexOfID(id)
		if !ok {
			return nil
		}
		r := s.recs[idx]
		if r.deleted {
			return nil
		}
		return r
	}
	idx, ok := s.byKey[strings.ToUpper(keyOrID)]
	if !ok {
		return nil
	}
	r := s.recs[idx]
	if r.deleted {
		return nil
	}
	return r
}

// indexOfID returns the record index of an issue id: generated issues count
// from firstIssueID, those created after start from issueBase.
func (s *site) indexOfID(id int64) (int, bool) {
	var idx int64
	switch {
	case id >= s.issueBase:
		idx = int64(s.generated) + id - s.issueBase
	case id >= firstIssueID && id-firstIssueID < int64(s.generated):
		idx = id - firstIssueID
	default:
		return 0, false
	}
	if idx >= int64(len(s.recs)) {
		return 0, false
	}
	return int(idx), true
}

func (s *site) now() time.Time { return s.clock.now() }

// Handler returns the emulator's HTTP handler: the REST API (also under the
// cloud gateway prefix /ex/jira/{cloudId}), /_edge/tenant_info, the media
// URLs attachments redirect to, and the admin API under /_emulator/.
func (e *Emulator) Handler() http.Handler { return e.s.handler }

// Start serves the emulator on addr ("127.0.0.1:0" picks a free port) until
// ctx ends or Close is called, and returns its base URL, such as
// http://127.0.0.1:9090.
func (e *Emulator) Start(ctx context.Context, addr string) (string, error) {
	s := e.s
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.server != nil {
		return "", errors.New("emulator already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("emulator listen: %w", err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	s.server = srv
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.WithError(err).Error("emulator server stopped")
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-s.hooks.ctx.Done():
		}
	}()
	return s.url, nil
}

// URL returns the base URL Start serves on, or "" before Start.
func (e *Emulator) URL() string {
	e.s.srvMu.Lock()
	defer e.s.srvMu.Unlock()
	return e.s.url
}

// Close stops the server, if started, and webhook delivery; deliveries not
// yet sent are dropped. Use WaitWebhooks first to send them.
func (e *Emulator) Close() error {
	s := e.s
	if s.closed.Swap(true) {
		return nil
	}
	s.srvMu.Lock()
	srv := s.server
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err = srv.Shutdown(ctx); err != nil {
			err = srv.Close()
		}
		cancel()
	}
	s.hooks.close()
	return err
}

// Silent returns a handle on the same site whose mutations change issues
// exactly like e's (updated, changelog) but send no webhook: a lost webhook,
// for the self-healing and reconcile tests.
func (e *Emulator) Silent() *Emulator { return &Emulator{s: e.s, silent: true, as: e.as} }

// CloudID returns the site id the gateway prefix and tenant_info use.
func (e *Emulator) CloudID() string { return e.s.cloudID }

// Now returns the emulator's clock.
func (e *Emulator) Now() time.Time { return e.s.now() }

// Advance moves the emulator's clock forward: SLA cycles tick, search lag
// and media tokens expire.
func (e *Emulator) Advance(d time.Duration) {
	if d > 0 {
		e.s.clock.advance(d)
	}
}

// Users returns the site's accounts.
func (e *Emulator) Users() []User {
	e.s.plat.mu.RLock()
	defer e.s.plat.mu.RUnlock()
	return append(slices.Clone(e.s.users), e.s.plat.users...)
}

// Keys returns the keys of every issue, oldest first.
func (e *Emulator) Keys() []string {
	s := e.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.recs))
	for _, r := range s.recs {
		if !r.deleted {
			out = append(out, r.key)
		}
	}
	return out
}

// Issue returns a copy of an issue's current state, by key (a moved issue's
// former key works too) or id.
func (e *Emulator) Issue(keyOrID string) (*Issue, error) {
	v, err := e.s.view(keyOrID)
	if err != nil {
		return nil, err
	}
	return e.snapshot(v), nil
}

// snapshot returns a copy of a viewed issue with its links filled in.
func (e *Emulator) snapshot(v *issueView) *Issue {
	is := v.is.clone()
	is.Key, is.Project = v.key, v.proj.key
	if v.parent != nil {
		is.Parent = v.parent.key
	}
	for _, st := range v.subtasks {
		is.Subtasks = append(is.Subtasks, st.key)
	}
	for _, l := range v.links {
		is.Links = append(is.Links, Link{ID: strconv.FormatInt(l.id, 10), Type: l.typ.name, Outward: l.outward, Other: l.other.key})
	}
	return is
}
