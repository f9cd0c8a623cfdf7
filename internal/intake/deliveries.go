package intake

import (
	"hash/maphash"
	"math/bits"
	"sync"
)

// deliveryFilter is a Bloom filter of delivery ids: every id stored in
// webhook_events when it was loaded, and every id accepted since. Its "no"
// is certain and its "maybe" is wrong for about one id in two thousand at
// capacity (far fewer below it), so a new delivery, nearly every delivery,
// is acknowledged without asking DuckDB whether it is a repeat; a "maybe"
// is asked as before. The query it saves cost DuckDB's CPU on every
// delivery under P3's storm, on the acknowledgement path, and a "maybe"
// still costs one there, for the whole group it is in: at 1,000
// deliveries a second, 1% of them made ten such queries a second, each
// waiting for DuckDB behind the writer's commits.
//
// Ids that retention removes from the store stay in the filter and only
// cost a query when they come again. The filter counts what it holds and
// is reloaded, twice as large, when that passes its capacity.
type deliveryFilter struct {
	seed     maphash.Seed
	words    []uint64
	mask     uint64 // the number of bits less one (a power of two)
	held     int
	capacity int
}

const (
	// filterBitsPerID and filterHashes give about 0.05% false "maybe"s
	// at capacity (k = 11 hashes of 16 bits an id; 10 bits and 7 hashes
	// gave 1%): 2 MB for a million ids.
	filterBitsPerID = 16
	filterHashes    = 11
	// minFilterCapacity is the capacity of a filter for an empty store:
	// 128 KB.
	minFilterCapacity = 1 << 16
)

// newDeliveryFilter makes a filter for at least capacity ids.
func newDeliveryFilter(capacity int) *deliveryFilter {
	capacity = max(capacity, 1)
	n := max(uint64(1)<<bits.Len64(uint64(capacity*filterBitsPerID-1)), 64)
	return &deliveryFilter{seed: maphash.MakeSeed(), words: make([]uint64, n/64), mask: n - 1, capacity: capacity}
}

// probes calls fn with each bit of id, by double hashing one 64-bit hash.
func (f *deliveryFilter) probes(id string, fn func(bit uint64) bool) bool {
	h := maphash.String(f.seed, id)
	step := h>>32 | h<<32 | 1 // odd, so it visits distinct bits mod a power of two
	for i := range uint64(filterHashes) {
		if !fn((h + i*step) & f.mask) {
			return false
		}
	}
	return true
}

// add records id.
func (f *deliveryFilter) add(id string) {
	f.probes(id, func(bit uint64) bool {
		f.words[bit/64] |= 1 << (bit % 64)
		return true
	})
	f.held++
}

// mayHold reports whether id may have been added; false is certain.
func (f *deliveryFilter) mayHold(id string) bool {
	return f.probes(id, func(bit uint64) bool { return f.words[bit/64]&(1<<(bit%64)) != 0 })
}

// full reports whether the filter holds more than its capacity, when its
// false "maybe"s grow past the planned rate.
func (f *deliveryFilter) full() bool { return f.held > f.capacity }

// deliverySet is the pair of filters the intake asks about a delivery (its
// id and its body hash), and their reload. A reload reads every delivery
// of the store, a second or more on a large one: it runs in the
// background while the full filters keep answering (only "maybe" more
// often), and what is added meanwhile goes into the new filters too. Done
// between two groups, it held every acknowledgement for as long.
type deliverySet struct {
	mu          sync.Mutex
	ids, bodies *deliveryFilter
	// reloading says a reload runs; addedIDs and addedBodies are what was
	// added since it started.
	reloading             bool
	addedIDs, addedBodies []string
	wg                    sync.WaitGroup
}

// mayHold reports whether the delivery id and the body hash may have been
// added ("" is never held).
func (s *deliverySet) mayHold(id, body string) (idMaybe, bodyMaybe bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return id != "" && s.ids.mayHold(id), body != "" && s.bodies.mayHold(body)
}

// add records a delivery id and a body hash ("" is skipped).
func (s *deliverySet) add(id, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" {
		s.ids.add(id)
		if s.reloading {
			s.addedIDs = append(s.addedIDs, id)
		}
	}
	if body != "" {
		s.bodies.add(body)
		if s.reloading {
			s.addedBodies = append(s.addedBodies, body)
		}
	}
}

// startReload reports whether a filter is full and no reload runs; if so
// it notes a reload as started, for at least atLeast ids.
func (s *deliverySet) startReload() (atLeast int, start bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reloading || !(s.ids.full() || s.bodies.full()) {
		return 0, false
	}
	s.reloading, s.addedIDs, s.addedBodies = true, nil, nil
	return max(s.ids.held, s.bodies.held), true
}

// finishReload takes the filters a reload made, with what was added since
// it started; after a failed one (err set), the full filters stay, and the
// next reload waits until they hold twice as many.
func (s *deliverySet) finishReload(ids, bodies *deliveryFilter, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloading = false
	if err != nil {
		s.ids.capacity, s.bodies.capacity = 2*s.ids.held, 2*s.bodies.held
	} else {
		for _, id := range s.addedIDs {
			ids.add(id)
		}
		for _, b := range s.addedBodies {
			bodies.add(b)
		}
		s.ids, s.bodies = ids, bodies
	}
	s.addedIDs, s.addedBodies = nil, nil
}

// capacity is the ids the id filter has room for.
func (s *deliverySet) capacity() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids.capacity
}
