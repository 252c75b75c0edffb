package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/roomgate/roomgate/conf"
)

// groupCommand manages groups of the address book in the store.
//
//	roomgate group create --id ID [--name NAME] [--members a,b,c]
//	roomgate group set --id ID [--name NAME] --members a,b,c   (replaces the members)
//	roomgate group list | show --id ID | delete --id ID
func groupCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"group: want create, set, list, show or delete"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("group "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	id := fs.String("id", "", "group ID")
	name := fs.String("name", "", "group name")
	members := fs.String("members", "", "comma-separated user IDs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub != "list" && *id == "" {
		return usageError{fmt.Sprintf("group %s: --id is required", sub)}
	}
	st, svc, err := openService(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		g, err := svc.CreateGroup(ctx, conf.System(), conf.Group{ID: *id, Name: *name, Members: splitList(*members)})
		if err != nil {
			return fmt.Errorf("creating group: %w", err)
		}
		return printJSON(stdout, g)
	case "set":
		old, err := svc.GetGroup(ctx, *id)
		if err != nil {
			return fmt.Errorf("changing group: %w", err)
		}
		if *name != "" {
			old.Name = *name
		}
		old.Members = splitList(*members)
		g, err := svc.UpdateGroup(ctx, conf.System(), old)
		if err != nil {
			return fmt.Errorf("changing group: %w", err)
		}
		return printJSON(stdout, g)
	case "list":
		gs, err := svc.ListGroups(ctx)
		if err != nil {
			return fmt.Errorf("listing groups: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tMEMBERS")
		for _, g := range gs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", g.ID, g.Name, strings.Join(g.Members, ","))
		}
		return tw.Flush()
	case "show":
		g, err := svc.GetGroup(ctx, *id)
		if err != nil {
			return fmt.Errorf("showing group: %w", err)
		}
		return printJSON(stdout, g)
	case "delete":
		if err := svc.DeleteGroup(ctx, conf.System(), *id); err != nil {
			return fmt.Errorf("deleting group: %w", err)
		}
		fmt.Fprintf(stdout, "deleted group %s\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("group: unknown subcommand %q", sub)}
	}
}
