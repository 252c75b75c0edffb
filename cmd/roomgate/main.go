// Command roomgate is the Roomgate conferencing server and its command-line
// tools. It is the only package that imports every other one: it loads the
// configuration, opens the store, and wires the bridge, the conference
// service and the signalling and HTTP front ends together.
//
//	roomgate [serve] [--config FILE]       run the server (the default)
//	roomgate conference create|list|show|delete ...
//	roomgate user|group|template ...
//	roomgate config defaults|keys|check
//	roomgate h323 decode [-kind uuie|ras|h245|q931] [HEX]
//	roomgate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/roomgate/roomgate/h323/pdu"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCommand(ctx, args, stderr)
	case "conference", "conferences":
		err = conferenceCommand(ctx, args, stdout, stderr)
	case "user", "users":
		err = userCommand(ctx, args, stdout, stderr)
	case "group", "groups":
		err = groupCommand(ctx, args, stdout, stderr)
	case "template", "templates":
		err = templateCommand(ctx, args, stdout, stderr)
	case "callstring", "callstrings":
		err = callstringCommand(args, stdout)
	case "config":
		err = configCommand(args, stdout, stderr)
	case "h323":
		if len(args) == 0 || args[0] != "decode" {
			fmt.Fprintln(stderr, "roomgate: h323: want decode")
			return 2
		}
		// Exit status is the tool's own: 0 bytes match, 1 differ, 2 bad input.
		return pdu.RunDecodeTool(args[1:], os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "roomgate", version)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "roomgate: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "roomgate:", err)
			return 2
		}
		fmt.Fprintln(stderr, "roomgate:", err)
		return 1
	}
	return 0
}

// usageError marks errors in the command line itself (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseFlags parses a subcommand's flags and refuses positional arguments,
// so that a mistyped flag value is never silently ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  roomgate [serve] [--config FILE]         run the server (embedded defaults without --config)
  roomgate conference create --id ID --name NAME [--max-participants N] [--pin PIN] [--moderator-pin PIN]
  roomgate conference list | show --id ID | delete --id ID
  roomgate user create --id ID [--name N] [--email E] [--role user|operator|admin] (--password P | --password-file F)
  roomgate user list | show --id ID | passwd --id ID ... | delete --id ID
  roomgate group create|set --id ID [--name N] --members a,b | list | show --id ID | delete --id ID
  roomgate template save --conference ID [--name N] | use --id T [--conference ID] [--name N] | list | show | delete
  roomgate callstring parse STRING          print a call string's typed target as JSON
  roomgate config defaults                  print the embedded default configuration
  roomgate config keys                      list every key and its environment variable
  roomgate config check [--config FILE]     validate a configuration and exit
  roomgate h323 decode [-kind uuie|ras|h245|q931] [HEX]   decode an H.323 PDU to JSON and check its re-encoding
  roomgate version

Every command accepts --config FILE; every key can be overridden by ROOMGATE_<KEY>
(dots as underscores), e.g. ROOMGATE_SIP_LISTEN=127.0.0.1:5070.
`)
}
