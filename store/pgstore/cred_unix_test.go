//go:build unix

package pgstore

import (
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// credential is the unprivileged user the server runs as when the tests
// run as root.
type credential struct {
	name, home string
	uid, gid   int
}

func newCredential(u *user.User) (*credential, error) {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s has a non-numeric uid %q", u.Username, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s has a non-numeric gid %q", u.Username, u.Gid)
	}
	return &credential{name: u.Username, home: u.HomeDir, uid: uid, gid: gid}, nil
}

// apply makes cmd run as the user, with his primary group only.
func (c *credential) apply(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid), Groups: []uint32{}}
}
