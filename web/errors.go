package web

import "errors"

// Errors of the web server's lifecycle. Request errors are answered with
// the JSON error shape of DESIGN.md, not returned.
var (
	// ErrStarted is returned by Start when the server is already running.
	ErrStarted = errors.New("web: server already started")
	// ErrBadListen means Config.Listen is not a host:port the server can bind.
	ErrBadListen = errors.New("web: bad listen address")
)
