package intake

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/store"
)

// The journal is where an accepted event becomes durable before its 202: an
// append-only file, fsynced per group of deliveries, that the intake moves
// into webhook_events in the background. A DuckDB commit shares its lock and
// its WAL with the issue writer and the exporter, and under their load an
// acknowledgement waited tens of milliseconds for it; an fsync of a few
// kilobytes takes a fraction of one.
//
// A record is a header of three little-endian uint32 (length of the event's
// fields as JSON, length of the body, CRC-32C of both) followed by the two.
// A crash can leave the last record torn; reading stops at the first record
// that is short or fails its checksum, and such a record was never
// acknowledged. The file is emptied whenever every record in it has been
// moved to the store.

// JournalName is the journal's file name in the data directory.
const JournalName = "webhooks.journal"

// maxRecord bounds what one record may claim to hold when read back.
const maxRecord = 2*MaxBody + 1<<20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// journalFields are the fields of a store.Event kept in a record; the body
// follows them as it is.
type journalFields struct {
	ID             int64     `json:"id"`
	DeliveryID     string    `json:"delivery_id,omitempty"`
	Type           string    `json:"type"`
	IssueKey       string    `json:"issue_key,omitempty"`
	IssueID        string    `json:"issue_id,omitempty"`
	RelatedIssueID string    `json:"related_issue_id,omitempty"`
	JiraTimestamp  time.Time `json:"jira_timestamp,omitzero"`
	ReceivedAt     time.Time `json:"received_at"`
	RetryCount     int       `json:"retry_count,omitempty"`
	State          string    `json:"state"`
}

// journal is the open journal file.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
	size int64
	// unmoved counts the records not yet in the store.
	unmoved int
	// buf is the encoding of the last group, reused by the next.
	buf []byte
}

// recordOverhead is about the bytes of a record besides its body: the
// header and the fields as JSON.
const recordOverhead = 12 + 320

// maxKeptBuffer bounds the buffer the journal keeps between groups.
const maxKeptBuffer = 1 << 20

// openJournal opens (creating it) the journal at path and returns the events
// of its whole records.
func openJournal(path string) (*journal, []*store.Event, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, files.FileMode)
	if err != nil {
		return nil, nil, fmt.Errorf("open webhook journal: %w", err)
	}
	events, valid, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read webhook journal: %w", err)
	}
	// Drop a torn tail so that new records follow whole ones.
	if err := f.Truncate(valid); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("truncate webhook journal: %w", err)
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seek webhook journal: %w", err)
	}
	return &journal{f: f, path: path, size: valid, unmoved: len(events)}, events, nil
}

// readJournal reads whole records from the start of f and returns their
// events and the offset after the last whole one.
func readJournal(f *os.File) ([]*store.Event, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var events []*store.Event
	var offset int64
	var head [12]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return events, offset, nil // end, or a torn header
		}
		fl, bl := binary.LittleEndian.Uint32(head[0:]), binary.LittleEndian.Uint32(head[4:])
		sum := binary.LittleEndian.Uint32(head[8:])
		if uint64(fl)+uint64(bl) > maxRecord {
			return events, offset, nil
		}
		data := make([]byte, int(fl)+int(bl))
		if _, err := io.ReadFull(r, data); err != nil {
			return events, offset, nil
		}
		if crc32.Checksum(data, crcTable) != sum {
			return events, offset, nil
		}
		var jf journalFields
		if err := json.Unmarshal(data[:fl], &jf); err != nil {
			return events, offset, nil
		}
		events = append(events, &store.Event{ID: jf.ID, DeliveryID: jf.DeliveryID, Type: jf.Type, IssueKey: jf.IssueKey,
			IssueID: jf.IssueID, RelatedIssueID: jf.RelatedIssueID, JiraTimestamp: jf.JiraTimestamp, ReceivedAt: jf.ReceivedAt,
			RetryCount: jf.RetryCount, State: jf.State, Body: data[fl:], BodySHA256: bodySHA256(data[fl:])})
		offset += int64(len(head) + len(data))
	}
}

// encodeRecord appends the record of e to buf.
func encodeRecord(buf []byte, e *store.Event) ([]byte, error) {
	fields, err := json.Marshal(journalFields{ID: e.ID, DeliveryID: e.DeliveryID, Type: e.Type, IssueKey: e.IssueKey,
		IssueID: e.IssueID, RelatedIssueID: e.RelatedIssueID, JiraTimestamp: e.JiraTimestamp, ReceivedAt: e.ReceivedAt,
		RetryCount: e.RetryCount, State: e.State})
	if err != nil {
		return buf, err
	}
	crc := crc32.Update(crc32.Checksum(fields, crcTable), crcTable, e.Body)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(fields)))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(e.Body)))
	buf = binary.LittleEndian.AppendUint32(buf, crc)
	buf = append(buf, fields...)
	return append(buf, e.Body...), nil
}

// append writes the records of events and fsyncs the file. On failure the
// file is cut back to where it was, so a half-written group is not followed
// by the next one.
func (j *journal) append(events []*store.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("webhook journal closed")
	}
	// One buffer of the group's size, kept for the next group unless a
	// large one made it big: grown record by record, the copies were a
	// third of the bytes the intake allocated.
	size := 0
	for _, e := range events {
		size += recordOverhead + len(e.Body)
	}
	buf := j.buf[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	for _, e := range events {
		var err error
		if buf, err = encodeRecord(buf, e); err != nil {
			return fmt.Errorf("encode webhook journal record: %w", err)
		}
	}
	if cap(buf) <= maxKeptBuffer {
		j.buf = buf
	} else {
		j.buf = nil
	}
	_, err := j.f.Write(buf)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		// Best effort: a later append then starts after whole records.
		_ = j.f.Truncate(j.size)
		_, _ = j.f.Seek(j.size, io.SeekStart)
		return fmt.Errorf("write webhook journal: %w", err)
	}
	j.size += int64(len(buf))
	j.unmoved += len(events)
	return nil
}

// moved records that n records are in the store, and empties the journal
// once all of them are: under the same lock as append, so a record
// appended meanwhile is never cut off.
func (j *journal) moved(n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.unmoved = max(j.unmoved-n, 0)
	if j.f == nil || j.size == 0 || j.unmoved > 0 {
		return nil
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("empty webhook journal: %w", err)
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("empty webhook journal: %w", err)
	}
	j.size = 0
	return nil
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
