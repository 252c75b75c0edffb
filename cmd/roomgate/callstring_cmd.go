package main

import (
	"fmt"
	"io"

	"github.com/roomgate/roomgate/conf"
)

// callstringCommand lets operators check their dial plans without
// dialling anything:
//
//	roomgate callstring parse STRING   print the typed target as JSON
//
// A string that does not parse is reported with the part that is wrong
// (exit status 1). The RTSP password is never printed.
func callstringCommand(args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "parse" {
		return usageError{"callstring: want parse STRING (quote the string for the shell)"}
	}
	t, err := conf.ParseCallString(args[1])
	if err != nil {
		return fmt.Errorf("parsing call string: %w", err)
	}
	return printJSON(stdout, t)
}
