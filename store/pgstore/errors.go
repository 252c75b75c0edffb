package pgstore

import (
	"errors"

	"github.com/roomgate/roomgate/store"
)

// Errors of the PostgreSQL store. Not-found and already-exists conditions
// are reported with conf.ErrNotFound and conf.ErrExists, as the SQLite store
// does. ErrSchemaTooNew and ErrCorrupt are the SQLite store's sentinels, so
// that callers test one value whichever store they opened.
var (
	// ErrSchemaTooNew means the database was migrated by a newer Roomgate.
	ErrSchemaTooNew = store.ErrSchemaTooNew
	// ErrCorrupt means a stored row could not be decoded.
	ErrCorrupt = store.ErrCorrupt
	// ErrBadDSN means the DSN could not be parsed. The message never quotes
	// the DSN, which may hold a password.
	ErrBadDSN = errors.New("pgstore: the database DSN cannot be parsed")
)
