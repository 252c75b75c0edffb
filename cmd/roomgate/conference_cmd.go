package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/roomgate/roomgate/conf"
)

// conferenceCommand manages conferences directly in the store under
// data_dir. It works while the server runs (the store is shared safely), but
// deleting here does not hang up live calls: use the REST API for that.
func conferenceCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"conference: want create, list, show or delete"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("conference "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	id := fs.String("id", "", "conference ID (digits; generated when omitted on create)")
	name := fs.String("name", "", "conference name")
	maxParticipants := fs.Int("max-participants", 0, "capacity (0 = unlimited)")
	pin := fs.String("pin", "", "conference PIN")
	modPIN := fs.String("moderator-pin", "", "moderator PIN")
	access := fs.String("access", "", "internal or public")
	mode := fs.String("mode", "", "symmetric, asymmetric or role-based")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, svc, err := openService(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()

	switch sub {
	case "create":
		c, err := svc.CreateConference(ctx, conf.Conference{
			ID: *id, Name: *name, MaxParticipants: *maxParticipants,
			PIN: *pin, ModeratorPIN: *modPIN, Access: *access, Mode: *mode,
		})
		if err != nil {
			return fmt.Errorf("creating conference: %w", err)
		}
		return printJSON(stdout, c)
	case "list":
		list, err := svc.ListConferences(ctx)
		if err != nil {
			return fmt.Errorf("listing conferences: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tACCESS\tMODE\tMAX")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", c.ID, c.Name, c.Access, c.Mode, c.MaxParticipants)
		}
		return tw.Flush()
	case "show":
		if *id == "" {
			return usageError{"conference show: --id is required"}
		}
		c, err := svc.GetConference(ctx, *id)
		if err != nil {
			return fmt.Errorf("showing conference %s: %w", *id, err)
		}
		return printJSON(stdout, c)
	case "delete":
		if *id == "" {
			return usageError{"conference delete: --id is required"}
		}
		if err := svc.DeleteConference(ctx, *id); err != nil {
			return fmt.Errorf("deleting conference %s: %w", *id, err)
		}
		fmt.Fprintf(stdout, "deleted conference %s\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("conference: unknown subcommand %q", sub)}
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
