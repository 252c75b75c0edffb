//go:build !linux

package pgstore

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal; stop (from TestMain) still stops the server.
func setParentDeathSignal(*exec.Cmd) {}
