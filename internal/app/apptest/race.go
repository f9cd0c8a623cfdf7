//go:build race

package apptest

// raceEnabled says the test binary runs with the race detector.
const raceEnabled = true
