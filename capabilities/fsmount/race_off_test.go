//go:build !race

package fsmount

// raceDetector is true when the tests run with -race.
const raceDetector = false
