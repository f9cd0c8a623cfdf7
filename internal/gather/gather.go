// Package gather groups what waits on a channel into one batch: the writers
// of jiraduck commit whatever arrived while their previous commit ran in one
// transaction, since a DuckDB transaction costs about the same whatever its
// size.
package gather

// Waiting appends to batch the values ch holds already, without waiting for
// more, until batch has limit values, ch is empty or ch is closed.
func Waiting[T any](ch <-chan T, batch []T, limit int) []T {
	return WaitingFunc(ch, batch, limit, func(b []T, v T) []T { return append(b, v) })
}

// WaitingFunc is Waiting for a channel whose values add to batch as add
// decides (a slice of items each, say), limit counting batch's length.
func WaitingFunc[T, E any](ch <-chan T, batch []E, limit int, add func([]E, T) []E) []E {
	for len(batch) < limit {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = add(batch, v)
		default:
			return batch
		}
	}
	return batch
}
