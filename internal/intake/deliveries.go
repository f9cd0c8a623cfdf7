package intake

import (
	"hash/maphash"
	"math/bits"
)

// deliveryFilter is a Bloom filter of delivery ids: every id stored in
// webhook_events when it was loaded, and every id accepted since. Its "no"
// is certain and its "maybe" is wrong for about one id in a hundred, so a new
// delivery, nearly every delivery, is acknowledged without asking DuckDB
// whether it is a repeat; a "maybe" is asked as before. The query it saves
// cost DuckDB's CPU on every delivery under P3's storm, on the
// acknowledgement path.
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
	// filterBitsPerID and filterHashes give about 1% false "maybe"s at
	// capacity (k = 7 hashes of 10 bits an id).
	filterBitsPerID = 10
	filterHashes    = 7
	// minFilterCapacity is the capacity of a filter for an empty store:
	// 80 KB.
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
