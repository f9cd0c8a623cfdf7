package emulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Generation runs a small simulation per issue: the issue starts in its
// initial state and a time-ordered list of events (transitions, edits,
// attachments, comments) is applied to it, each recorded as a history. The
// final state is therefore consistent with the changelog, and the SLA cycles
// follow the status timeline. Everything comes from the issue's own seed and
// from genInput, so the same issue can be generated again when it is rendered:
// only issues that were changed after start are stored in full.

// genInput is what one issue's generation depends on besides its seed.
type genInput struct {
	idx     int
	id      int64
	key     string
	proj    *project
	created time.Time
	seed    uint64
	subtask bool
	big     bigKind
	// First ids of the issue's generated comments, histories, attachments,
	// remote links and worklogs.
	cbase, hbase, abase, rbase, wbase int64
}

type bigKind uint8

const (
	bigNone bigKind = iota
	// bigComments gives the issue 150 comments: more than the 100 that
	// GET issue embeds.
	bigComments
	// bigHistories gives the issue 130 histories: more than a changelog page.
	bigHistories
)

const (
	bigCommentCount = 150
	bigHistoryCount = 130
	// bigWorklogCount is the least number of worklogs of the few issues
	// with more than GET issue embeds.
	bigWorklogCount = 25
	// maxEmbeddedWorklogs is how many worklogs GET issue embeds.
	maxEmbeddedWorklogs = 20
	// largeAttachmentSize is declared by the few attachments that are too
	// big to download (over the 50 MiB default limit).
	largeAttachmentSize = 60<<20 + 12345
)

var labelPool = []string{"customer-reported", "regression", "billing", "mobile", "security", "performance",
	"needs-info", "backend", "frontend", "quick-win", "tech-debt", "ops", "p1-followup"}

var taskVerbs = []string{"Upgrade", "Rotate", "Document", "Migrate", "Automate", "Review", "Clean up", "Monitor", "Archive", "Benchmark"}
var taskObjects = []string{"PostgreSQL on the reporting cluster", "TLS certificates for the public API", "the on-call runbook",
	"the nightly backup job", "old feature flags", "the VPN gateway", "Kafka consumer lag alerts", "the staging environment",
	"audit log retention", "the invoice renderer"}
var impactPhrases = []string{"Single customer", "Several customers", "All EU customers", "Internal only", "Revenue affecting"}

type genEventKind uint8

const (
	evStatus genEventKind = iota
	evAssign
	evPriority
	evLabel
	evSummary
	evDescription
	evImpact
	evComponent
	evDueDate
	evSeverity
	evRank
	evAttachment
	evRemoteLink
	evWorklog
)

type genEvent struct {
	at   time.Time
	kind genEventKind
	who  string
	val  string
	res  string // resolution of a status event
	n    int    // index into the issue's attachments, remote links or worklogs
	seed uint64
}

func weighted(rng *rand.Rand, weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// between returns a random instant in [a, b], with milliseconds.
func between(rng *rand.Rand, a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return ms(a.Add(time.Duration(rng.Int64N(int64(b.Sub(a)) + 1))))
}

// expDuration draws an exponentially distributed duration with the given mean.
func expDuration(rng *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(rng.ExpFloat64() * float64(mean))
}

func (s *site) agent(rng *rand.Rand) string {
	return s.users[s.agents[rng.IntN(len(s.agents))]].AccountID
}
func (s *site) customer(rng *rand.Rand) string {
	return s.users[s.customers[rng.IntN(len(s.customers))]].AccountID
}

func (s *site) isAgent(accountID string) bool {
	u := s.user(accountID)
	return u != nil && u.AccountType != "customer"
}

func (s *site) summary(rng *rand.Rand, typ string) string {
	switch typ {
	case "Task", "Story", "Sub-task":
		return pick(rng, taskVerbs) + " " + pick(rng, taskObjects)
	}
	return pick(rng, subjects) + " " + pick(rng, verbs) + " " + pick(rng, contexts)
}

// genIssue generates one issue.
func (s *site) genIssue(in genInput) *Issue {
	rng := rand.New(rand.NewPCG(in.seed, 0x6a697261))
	p := in.proj
	created := in.created
	is := &Issue{
		ID: strconv.FormatInt(in.id, 10), Key: in.key, Project: p.key,
		Created: created, StatusChanged: created, Status: StatusToDo,
		Custom: map[string]any{},
	}
	switch {
	case in.subtask:
		is.Type = "Sub-task"
	case p.service:
		is.Type = []string{"Service Request", "Incident", "Task"}[weighted(rng, 55, 20, 25)]
	default:
		is.Type = []string{"Task", "Bug", "Story"}[weighted(rng, 45, 30, 25)]
	}
	if p.service && is.Type != "Task" && !in.subtask && len(s.customers) > 0 && rng.IntN(5) != 0 {
		is.Reporter = s.customer(rng)
	} else {
		is.Reporter = s.agent(rng)
	}
	is.Creator = is.Reporter
	if rng.IntN(10) == 0 {
		is.Creator = s.agent(rng)
	}
	is.Priority = priorities[weighted(rng, 5, 20, 50, 20, 5)].name
	is.Summary = s.summary(rng, is.Type)
	if rng.IntN(100) < 85 {
		is.Description = Doc{src: s.docs, seed: rng.Uint64(), kind: docDescription}
	}
	for range rng.IntN(3) {
		if l := pick(rng, labelPool); !slices.Contains(is.Labels, l) {
			is.Labels = append(is.Labels, l)
		}
	}
	for range rng.IntN(3) {
		if c := pick(rng, p.components).name; !slices.Contains(is.Components, c) {
			is.Components = append(is.Components, c)
		}
	}
	if !p.service && rng.IntN(10) < 4 {
		for _, v := range p.versions {
			if v.date >= created.Format(time.DateOnly) {
				is.FixVersions = []string{v.name}
				break
			}
		}
	}
	if rng.IntN(5) == 0 {
		is.DueDate = created.AddDate(0, 0, 3+rng.IntN(28)).Format(time.DateOnly)
	}
	is.Custom[FieldRank] = fmt.Sprintf("0|i%05s:", strconv.FormatInt(int64(in.idx), 36))
	if p.service && rng.IntN(2) == 0 {
		is.Custom[FieldCustomerImpact] = pick(rng, impactPhrases)
	}
	if is.Type == "Story" && rng.IntN(10) < 7 {
		is.Custom[FieldStoryPoints] = float64(pick(rng, []int{1, 2, 3, 5, 8, 13}))
	}
	if (is.Type == "Bug" || is.Type == "Incident") && rng.IntN(5) != 0 {
		is.Custom[FieldSeverity] = pick(rng, findCustomField(FieldSeverity).options).value
	}
	if rng.IntN(10) < 3 {
		opts := findCustomField(FieldAffectedSystems).options
		var vals []string
		for _, o := range opts {
			if rng.IntN(3) == 0 {
				vals = append(vals, o.value)
			}
		}
		if len(vals) > 0 {
			is.Custom[FieldAffectedSystems] = vals
		}
	}
	if rng.IntN(10) == 0 {
		is.Custom[FieldEscalationOwner] = s.agent(rng)
	}
	if rng.IntN(100) < 15 {
		is.Custom[FieldTargetDate] = created.AddDate(0, 0, 7+rng.IntN(60)).Format(time.DateOnly)
	}
	if is.Type == "Incident" {
		is.Custom[FieldIncidentStart] = ms(created.Add(-time.Duration(1+rng.IntN(180)) * time.Minute))
		if rng.IntN(10) < 4 {
			is.Custom[FieldRunbook] = pick(rng, cardURLs)
		}
	}
	if p.service && rng.IntN(5) == 0 {
		is.Custom[FieldCustomerLabels] = []string{pick(rng, []string{"vip", "enterprise", "trial", "partner"})}
	}
	rt := -1
	if p.service && !in.subtask {
		if is.Type == "Incident" {
			rt = findRequestType("Report an incident")
		} else {
			rt = rng.IntN(4)
		}
		is.RequestType = requestTypes[rt].name
	}

	// The issue's life: old issues are mostly resolved, recent ones open.
	end := s.now0
	age := end.Sub(created)
	pDone := 0.3
	switch {
	case age > 30*24*time.Hour:
		pDone = 0.85
	case age > 7*24*time.Hour:
		pDone = 0.6
	}
	done := rng.Float64() < pDone
	life := min(max(expDuration(rng, 4*24*time.Hour), 20*time.Minute), age)
	if in.big != bigNone {
		done, life = true, min(40*24*time.Hour, age)
	}
	horizon := ms(created.Add(life))
	if !done {
		horizon = between(rng, created, end)
	}

	var events []genEvent
	addStatus := func(at time.Time, status, res string) {
		events = append(events, genEvent{at: at, kind: evStatus, val: status, res: res, who: ""})
	}
	assignee := ""
	if rng.IntN(4) != 0 {
		assignee = s.agent(rng)
		if rng.IntN(2) == 0 {
			is.Assignee = assignee // assigned at creation: no history
		} else {
			events = append(events, genEvent{at: between(rng, created, created.Add(life/4)), kind: evAssign, val: assignee})
		}
	}
	t1 := between(rng, created, created.Add(life/3))
	if done {
		addStatus(t1, StatusProgress, "")
		mid := between(rng, t1, horizon)
		if p.service && rng.IntN(10) < 3 {
			back := between(rng, mid, horizon)
			addStatus(mid, StatusWaiting, "")
			addStatus(back, StatusProgress, "")
		} else if !p.service && rng.IntN(10) < 4 {
			addStatus(mid, StatusReview, "")
		}
		res := resolutions[weighted(rng, 80, 8, 7, 5)].name
		final := StatusDone
		if res != "Done" && rng.IntN(2) == 0 {
			final = StatusClosed
		}
		addStatus(horizon, final, res)
		if rng.IntN(25) == 0 && horizon.Before(end) {
			reopen := between(rng, horizon, end)
			addStatus(reopen, StatusToDo, "")
			if rng.IntN(2) == 0 {
				addStatus(between(rng, reopen, end), StatusProgress, "")
			}
		}
	} else {
		switch weighted(rng, 40, 35, 25) {
		case 1:
			addStatus(t1, StatusProgress, "")
		case 2:
			addStatus(t1, StatusProgress, "")
			later := StatusReview
			if p.service {
				later = StatusWaiting
			}
			addStatus(between(rng, t1, horizon), later, "")
		}
	}

	// Attachments, remote links and worklogs, each recorded in the changelog.
	if rng.IntN(10) < 3 || in.idx == 3 {
		n := 1 + weighted(rng, 70, 25, 5)
		for j := range n {
			a := s.genAttachment(rng, in.abase+int64(j), between(rng, created, horizon), is)
			if in.idx == 3 && j == 0 || rng.IntN(400) == 0 {
				a.Filename, a.MimeType, a.Size = "capture-full.pcap", "application/vnd.tcpdump.pcap", largeAttachmentSize
			}
			is.Attachments = append(is.Attachments, a)
			events = append(events, genEvent{at: a.Created, kind: evAttachment, who: a.Author, n: j})
		}
	}
	if rng.IntN(100) < 15 {
		for j := range 1 + rng.IntN(2) {
			is.RemoteLinks = append(is.RemoteLinks, genRemoteLink(rng, in.rbase+int64(j), is.Key))
			events = append(events, genEvent{at: between(rng, created, horizon), kind: evRemoteLink, who: s.agent(rng), n: j})
		}
	}
	if !p.service && rng.IntN(100) < 12 {
		for j := range 1 + rng.IntN(3) {
			at := between(rng, created, horizon)
			w := Worklog{ID: strconv.FormatInt(in.wbase+int64(j), 10), Author: s.agent(rng), Created: at,
				Started: ms(at.Add(-time.Duration(1+rng.IntN(8)) * time.Hour)), Spent: time.Duration(1+rng.IntN(32)) * 15 * time.Minute}
			is.Worklogs = append(is.Worklogs, w)
			events = append(events, genEvent{at: at, kind: evWorklog, who: w.Author, n: j})
		}
	}
	// Worklog details, and the few issues with more worklogs than GET issue
	// embeds, come from a stream of their own: the draws above, and with
	// them every other generated value, stay what they were.
	wr := rand.New(rand.NewPCG(in.seed, 0x776f726b))
	if in.idx == 4 || wr.IntN(1000) == 0 {
		for range bigWorklogCount + wr.IntN(15) {
			j := len(is.Worklogs)
			at := between(wr, created, horizon)
			w := Worklog{ID: strconv.FormatInt(in.wbase+int64(j), 10), Author: s.agent(wr), Created: at,
				Started: ms(at.Add(-time.Duration(1+wr.IntN(8)) * time.Hour)), Spent: time.Duration(1+wr.IntN(32)) * 15 * time.Minute}
			is.Worklogs = append(is.Worklogs, w)
			events = append(events, genEvent{at: at, kind: evWorklog, who: w.Author, n: j})
		}
	}
	for j := range is.Worklogs {
		s.worklogDetails(wr, &is.Worklogs[j], horizon)
	}

	// Edits.
	fillers := rng.IntN(4)
	if in.big == bigHistories {
		fillers = bigHistoryCount
	}
	for j := range fillers {
		k := []genEventKind{evPriority, evLabel, evSummary, evDescription, evImpact, evComponent, evDueDate, evSeverity, evRank, evAssign}[rng.IntN(10)]
		if in.big == bigHistories {
			// Edits that always change something, so that the count holds.
			k = []genEventKind{evRank, evDescription}[j%2]
		}
		ev := genEvent{at: between(rng, created, horizon), kind: k, who: s.agent(rng), seed: rng.Uint64()}
		switch k {
		case evPriority:
			ev.val = pick(rng, priorities).name
		case evLabel:
			ev.val = pick(rng, labelPool)
		case evSummary:
			ev.val = s.summary(rng, is.Type)
		case evComponent:
			ev.val = pick(rng, p.components).name
		case evSeverity:
			ev.val = pick(rng, findCustomField(FieldSeverity).options).value
		case evImpact:
			ev.val = pick(rng, impactPhrases)
		case evDueDate:
			ev.val = created.AddDate(0, 0, 1+rng.IntN(45)).Format(time.DateOnly)
		case evAssign:
			ev.val = s.agent(rng)
		}
		events = append(events, ev)
	}
	slices.SortStableFunc(events, func(a, b genEvent) int { return a.at.Compare(b.at) })

	// Apply the events in order, recording each as a history.
	var timeline []statusAt
	hid := in.hbase
	for _, ev := range events {
		if ev.who == "" {
			ev.who = is.Assignee
			if ev.who == "" {
				ev.who = assignee
			}
			if ev.who == "" {
				ev.who = s.agent(rng)
			}
		}
		items := s.applyGenEvent(is, ev, rng)
		if len(items) == 0 {
			continue
		}
		if ev.kind == evStatus {
			timeline = append(timeline, statusAt{ev.at, ev.val})
		}
		is.Histories = append(is.Histories, History{ID: strconv.FormatInt(hid, 10), Author: ev.who, Created: ev.at, Items: items})
		hid++
	}

	// Comments.
	nComments := 0
	if r := rng.IntN(100); r >= 25 {
		nComments = 1 + min(int(rng.ExpFloat64()*2.5), 7)
	}
	if in.big == bigComments {
		nComments = bigCommentCount
	}
	times := make([]time.Time, nComments)
	for j := range times {
		times[j] = between(rng, created.Add(time.Minute), horizon)
	}
	slices.SortFunc(times, time.Time.Compare)
	for j, at := range times {
		c := Comment{ID: strconv.FormatInt(in.cbase+int64(j), 10), Created: at, Updated: at, Public: true}
		switch {
		case p.service && j%2 == 0 && s.user(is.Reporter).AccountType == "customer":
			c.Author = is.Reporter
		case is.Assignee != "" && rng.IntN(2) == 0:
			c.Author = is.Assignee
		default:
			c.Author = s.agent(rng)
		}
		if p.service && s.isAgent(c.Author) && rng.IntN(4) == 0 {
			c.Public = false // an internal note
		}
		if !p.service && rng.IntN(30) == 0 {
			c.Visibility = "Developers"
		}
		c.Body = Doc{src: s.docs, seed: rng.Uint64(), kind: docComment}
		c.UpdateAuthor = c.Author
		if rng.IntN(10) == 0 {
			c.Updated = between(rng, at, horizon)
			if rng.IntN(5) == 0 {
				c.UpdateAuthor = s.agent(rng)
			}
		}
		is.Comments = append(is.Comments, c)
	}

	// Root cause is written once an incident or bug is resolved.
	if is.Resolution != "" && (is.Type == "Bug" || is.Type == "Incident") && rng.IntN(2) == 0 {
		is.Custom[FieldRootCause] = Doc{src: s.docs, seed: rng.Uint64(), kind: docField}
	}

	s.genDetail(is, in, p)

	is.Updated = created
	for _, h := range is.Histories {
		is.Updated = later(is.Updated, h.Created)
	}
	for _, c := range is.Comments {
		is.Updated = later(is.Updated, c.Updated)
	}
	s.genSLA(is, rt, timeline)
	s.genAgile(is, in, p)
	return is
}

type statusAt struct {
	at     time.Time
	status string
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// applyGenEvent applies one event to the issue and returns its change items.
func (s *site) applyGenEvent(is *Issue, ev genEvent, rng *rand.Rand) []Change {
	switch ev.kind {
	case evStatus:
		items := s.statusItems(is, ev.val, ev.res, ev.at)
		return items
	case evAssign:
		if ev.val == is.Assignee {
			return nil
		}
		item := s.userChange("assignee", is.Assignee, ev.val)
		is.Assignee = ev.val
		return []Change{item}
	case evPriority:
		if ev.val == is.Priority {
			return nil
		}
		from, to := findPriority(is.Priority), findPriority(ev.val)
		is.Priority = ev.val
		return []Change{{Field: "priority", FieldType: "jira", FieldID: "priority", From: strp(from.id), FromString: strp(from.name), To: strp(to.id), ToString: strp(to.name)}}
	case evLabel:
		if slices.Contains(is.Labels, ev.val) {
			return nil
		}
		before := joinSpace(is.Labels)
		is.Labels = append(is.Labels, ev.val)
		return []Change{{Field: "labels", FieldType: "jira", FieldID: "labels", FromString: strp(before), ToString: strp(joinSpace(is.Labels))}}
	case evSummary:
		if ev.val == is.Summary {
			return nil
		}
		item := Change{Field: "summary", FieldType: "jira", FieldID: "summary", FromString: strp(is.Summary), ToString: strp(ev.val)}
		is.Summary = ev.val
		return []Change{item}
	case evDescription:
		next := Doc{src: s.docs, seed: ev.seed, kind: docDescription}
		item := Change{Field: "description", FieldType: "jira", FieldID: "description", FromString: nullIfEmpty(is.Description.Wiki()), ToString: strp(next.Wiki())}
		is.Description = next
		return []Change{item}
	case evImpact, evSeverity, evRank:
		id := map[genEventKind]string{evImpact: FieldCustomerImpact, evSeverity: FieldSeverity, evRank: FieldRank}[ev.kind]
		if ev.kind == evRank {
			return []Change{{Field: "Rank", FieldType: "custom", FieldID: FieldRank, FromString: strp(""), ToString: strp(pick(rng, []string{"Ranked higher", "Ranked lower"}))}}
		}
		before := is.Custom[id]
		if before == ev.val {
			return nil
		}
		is.Custom[id] = ev.val
		return []Change{customChange(findCustomField(id), before, ev.val)}
	case evComponent:
		if slices.Contains(is.Components, ev.val) {
			return nil
		}
		c := s.projectByKey(is.Project).component(ev.val)
		is.Components = append(is.Components, ev.val)
		return []Change{{Field: "Component", FieldType: "jira", FieldID: "components", To: strp(c.id), ToString: strp(c.name)}}
	case evDueDate:
		if ev.val == is.DueDate {
			return nil
		}
		item := Change{Field: "duedate", FieldType: "jira", FieldID: "duedate", To: strp(ev.val), ToString: strp(ev.val + " 00:00:00.0")}
		if is.DueDate != "" {
			item.From, item.FromString = strp(is.DueDate), strp(is.DueDate+" 00:00:00.0")
		}
		is.DueDate = ev.val
		return []Change{item}
	case evAttachment:
		a := is.Attachments[ev.n]
		return []Change{attachmentChange(a, true)}
	case evRemoteLink:
		r := is.RemoteLinks[ev.n]
		return []Change{remoteLinkChange(r)}
	case evWorklog:
		before := totalSpent(is.Worklogs[:ev.n])
		w := is.Worklogs[ev.n]
		return worklogChanges(w, before, before+w.Spent)
	}
	return nil
}

// statusItems moves the issue to status and returns the resolution and status
// change items, keeping resolution and resolutiondate in step with the status
// category as Jira's default workflows do.
func (s *site) statusItems(is *Issue, status, resolution string, at time.Time) []Change {
	from, to := findStatus(is.Status), findStatus(status)
	if from == to {
		return nil
	}
	var items []Change
	switch {
	case to.cat == catDone && is.Resolution == "":
		if resolution == "" {
			resolution = "Done"
		}
		r := findResolution(resolution)
		items = append(items, Change{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: strp(r.id), ToString: strp(r.name)})
		is.Resolution, is.Resolved = r.name, at
	case to.cat != catDone && is.Resolution != "":
		r := findResolution(is.Resolution)
		items = append(items, Change{Field: "resolution", FieldType: "jira", FieldID: "resolution", From: strp(r.id), FromString: strp(r.name)})
		is.Resolution, is.Resolved = "", time.Time{}
	}
	items = append(items, Change{Field: "status", FieldType: "jira", FieldID: "status", From: strp(from.id), FromString: strp(from.name), To: strp(to.id), ToString: strp(to.name)})
	if from.cat != to.cat {
		is.StatusChanged = at
	}
	is.Status = to.name
	return items
}

func (s *site) userChange(field, from, to string) Change {
	c := Change{Field: field, FieldType: "jira", FieldID: field}
	if u := s.user(from); u != nil {
		c.From, c.FromString = strp(u.AccountID), strp(u.DisplayName)
	}
	if u := s.user(to); u != nil {
		c.To, c.ToString = strp(u.AccountID), strp(u.DisplayName)
	}
	return c
}

func attachmentChange(a Attachment, added bool) Change {
	c := Change{Field: "Attachment", FieldType: "jira", FieldID: "attachment"}
	if added {
		c.To, c.ToString = strp(a.ID), strp(a.Filename)
	} else {
		c.From, c.FromString = strp(a.ID), strp(a.Filename)
	}
	return c
}

// remoteLinkChange has no fieldId: Jira writes none for this item.
func remoteLinkChange(r RemoteLink) Change {
	return Change{Field: "RemoteIssueLink", FieldType: "jira", To: strp(strconv.FormatInt(r.ID, 10)), ToString: strp(`This issue links to "` + r.Title + `"`)}
}

// worklogPhrases are what people write in worklog comments.
var worklogPhrases = []string{"Investigated the logs and reproduced the problem.", "Call with the customer.",
	"Code review and follow-up fixes.", "Deployed the fix to staging and verified it.", "Wrote the migration and its tests.",
	"Pairing session on the failing job.", "Updated the runbook."}

// worklogDetails gives a generated worklog what only some worklogs have: a
// comment (most), a role restriction (a few), a later edit by someone else
// (some).
func (s *site) worklogDetails(rng *rand.Rand, w *Worklog, horizon time.Time) {
	if rng.IntN(10) < 7 {
		w.Comment = Text(pick(rng, worklogPhrases))
	}
	if rng.IntN(10) == 0 {
		w.Visibility = "Developers"
	}
	if rng.IntN(5) == 0 {
		// between answers w.Created when the horizon is not after it.
		w.Updated, w.UpdateAuthor = between(rng, w.Created, horizon), s.agent(rng)
	}
}

func worklogChanges(w Worklog, before, after time.Duration) []Change {
	c := Change{Field: "timespent", FieldType: "jira", FieldID: "timespent", To: strp(secs(after)), ToString: strp(secs(after))}
	if before > 0 {
		c.From, c.FromString = strp(secs(before)), strp(secs(before))
	}
	return []Change{c, {Field: "WorklogId", FieldType: "jira", FieldID: "worklogId", To: strp(w.ID), ToString: strp(w.ID)}}
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

func totalSpent(ws []Worklog) time.Duration {
	var t time.Duration
	for _, w := range ws {
		t += w.Spent
	}
	return t
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func joinSpace(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

var attachmentKinds = []struct{ name, mime string }{
	{"screenshot.png", "image/png"}, {"error-log.txt", "text/plain"}, {"invoice.pdf", "application/pdf"},
	{"export.csv", "text/csv"}, {"payload.json", "application/json"}, {"photo.jpg", "image/jpeg"},
}

func (s *site) genAttachment(rng *rand.Rand, id int64, at time.Time, is *Issue) Attachment {
	k := pick(rng, attachmentKinds)
	author := is.Reporter
	if rng.IntN(2) == 0 {
		author = s.agent(rng)
	}
	size := int64(200 + rng.IntN(48000))
	return Attachment{ID: strconv.FormatInt(id, 10), Filename: k.name, MimeType: k.mime, Size: size, Author: author, Created: at}
}

func genRemoteLink(rng *rand.Rand, id int64, key string) RemoteLink {
	r := RemoteLink{ID: id}
	switch rng.IntN(3) {
	case 0:
		page := 90000 + rng.IntN(9000)
		r.URL = fmt.Sprintf("https://example.atlassian.net/wiki/spaces/OPS/pages/%d", page)
		r.Title, r.Relationship = "Runbook: "+pick(rng, taskObjects), "Wiki Page"
		r.AppType, r.AppName = "com.atlassian.confluence", "Confluence"
		r.GlobalID = fmt.Sprintf("appId=4a1b2c3d-0000-3a3a-9b9b-6f6f6f6f6f6f&pageId=%d", page)
	case 1:
		pr := 1000 + rng.IntN(2000)
		r.URL = fmt.Sprintf("https://github.com/example/platform/pull/%d", pr)
		r.Title, r.Summary, r.Relationship = fmt.Sprintf("%s: fix %s", key, pick(rng, subjects)), "Pull request", "mentioned in"
		r.AppType, r.AppName = "com.github.integration.production", "GitHub"
		r.GlobalID = r.URL
		r.Resolved = rng.IntN(2) == 0
	default:
		inc := 4000 + rng.IntN(1000)
		r.URL = fmt.Sprintf("https://status.example.com/incidents/%d", inc)
		r.Title, r.Summary, r.Relationship = fmt.Sprintf("Incident #%d", inc), "Status page incident", "causes"
		r.GlobalID = fmt.Sprintf("system=https://status.example.com&id=%d", inc)
	}
	return r
}

// slaError is what Jira answers for SLA fields outside a service project.
const slaError = "The service project you are trying to view does not exist."

// genSLA derives the issue's SLA values from its status timeline: time to
// first response stops at the first public reply of an agent (or at
// resolution), time to resolution pauses while waiting for the customer,
// completes at resolution and starts a new cycle when the issue is reopened.
func (s *site) genSLA(is *Issue, rt int, timeline []statusAt) {
	p := s.projectByKey(is.Project)
	if !p.service {
		is.SLA = []SLA{{Field: FieldTimeToResolution, Name: slaTTRName, Error: slaError}, {Field: FieldTimeToFirstResp, Name: slaTTFRName, Error: slaError}}
		return
	}
	if rt < 0 || is.Type == "Task" {
		return // no SLA applies: the fields are null
	}
	prio := findPriority(is.Priority)
	ttfr := SLA{Field: FieldTimeToFirstResp, Name: slaTTFRName}
	ttfr.Start(is.Created, prio.ttfr)
	first := time.Time{}
	for _, c := range is.Comments {
		if c.Public && s.isAgent(c.Author) {
			first = c.Created
			break
		}
	}
	if !is.Resolved.IsZero() && (first.IsZero() || is.Resolved.Before(first)) {
		first = is.Resolved
	}
	for _, st := range timeline {
		if findStatus(st.status).cat == catDone && (first.IsZero() || st.at.Before(first)) {
			first = st.at
		}
	}
	if !first.IsZero() {
		ttfr.Complete(first)
	}
	ttr := SLA{Field: FieldTimeToResolution, Name: slaTTRName}
	if requestTypes[rt].ttr {
		ttr.Start(is.Created, prio.ttr)
		for _, st := range timeline {
			cat := findStatus(st.status).cat
			switch {
			case cat == catDone:
				ttr.Complete(st.at)
			case ttr.Ongoing == nil:
				ttr.Start(st.at, prio.ttr)
			case st.status == StatusWaiting:
				ttr.Pause(st.at)
			default:
				ttr.Resume(st.at)
			}
		}
	}
	is.SLA = []SLA{ttr, ttfr}
}

// customChange is the change item of a custom field.
func customChange(f *customField, before, after any) Change {
	c := Change{Field: f.name, FieldType: "custom", FieldID: f.id}
	idOf := func(v any) (*string, *string) {
		text := customText(f, v)
		if text == "" {
			return nil, nil
		}
		if f.kind == kindOption {
			if o := f.option(text); o != nil {
				return strp(o.id), strp(o.value)
			}
		}
		return nil, strp(text)
	}
	c.From, c.FromString = idOf(before)
	c.To, c.ToString = idOf(after)
	return c
}

// customText is how a changelog shows a custom field value.
func customText(f *customField, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) {
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		return joinSpace(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.0")
	case Doc:
		return x.Wiki()
	}
	return fmt.Sprint(v)
}

// genDetail adds what issues carry beyond their fields and collections:
// time tracking estimates, votes, a security level, the metadata of
// changes made by automation, and images of the issue's attachments in its
// description and comments. It draws from a stream of its own, so that
// everything generated before it stays as it was.
func (s *site) genDetail(is *Issue, in genInput, p *project) {
	rng := rand.New(rand.NewPCG(in.seed, 0x64657461696c))
	if !p.service && rng.IntN(100) < 45 {
		is.OriginalEstimate = time.Duration(1+rng.IntN(16)) * 30 * time.Minute
		if rng.IntN(5) == 0 {
			is.OriginalEstimate = time.Duration(1+rng.IntN(10)) * 8 * time.Hour
		}
	}
	if rng.IntN(5) == 0 {
		is.Votes = 1 + rng.IntN(12)
	}
	if !p.service && rng.IntN(20) == 0 {
		is.SecurityLevel = "Staff only"
	}
	for i := range is.Histories {
		h := &is.Histories[i]
		for _, it := range h.Items {
			if it.FieldID == "assignee" && rng.IntN(3) == 0 {
				h.Metadata = &HistoryMetadata{Type: "jira.automation", Description: "Assigned by an automation rule",
					ActivityDescription: "Auto-assign new issues", ActorID: "automation-rule-17", ActorType: "application",
					ActorName: "Automation for Jira"}
				break
			}
		}
	}
	if len(is.Attachments) == 0 {
		return
	}
	// Attachments uploaded by then: a pasted image is stored when the text
	// holding it is saved.
	until := func(at time.Time) []string {
		var names []string
		for _, a := range is.Attachments {
			if !a.Created.After(at.Add(time.Minute)) {
				names = append(names, a.Filename)
			}
		}
		return names
	}
	if rng.IntN(2) == 0 {
		// The description as it stands now: edits may have added any of them.
		var names []string
		for _, a := range is.Attachments {
			names = append(names, a.Filename)
		}
		is.Description = is.Description.showing(names)
	}
	for i := range is.Comments {
		if rng.IntN(4) == 0 {
			is.Comments[i].Body = is.Comments[i].Body.showing(until(is.Comments[i].Created))
		}
	}
}
