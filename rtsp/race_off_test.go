//go:build !race

package rtsp

const raceEnabled = false
