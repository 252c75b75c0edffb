//go:build !unix

package pgstore

import (
	"errors"
	"os/exec"
	"os/user"
)

type credential struct {
	name, home string
	uid, gid   int
}

func newCredential(*user.User) (*credential, error) {
	return nil, errors.New("running the server as another user is only supported on Unix")
}

func (*credential) apply(*exec.Cmd) {}
