package pgstore

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel stop the server (fast shutdown)
// if the test process dies without stopping it, so that a killed test run
// leaves no server behind.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
}
