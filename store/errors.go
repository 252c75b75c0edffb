package store

import "errors"

// Errors of the store. Not-found and already-exists conditions are reported
// with conf.ErrNotFound and conf.ErrExists so that callers need not know
// which store they talk to.
var (
	// ErrSchemaTooNew means the database was migrated by a newer Roomgate;
	// this binary refuses to touch it rather than misread it.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrBadDataDir means the data directory cannot hold the database.
	ErrBadDataDir = errors.New("store: unusable data directory")
	// ErrCorrupt means a stored row could not be decoded.
	ErrCorrupt = errors.New("store: stored data is corrupt")
)
