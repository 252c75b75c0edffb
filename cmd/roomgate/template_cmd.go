package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/roomgate/roomgate/conf"
)

// templateCommand manages conference templates in the store.
//
//	roomgate template save --conference ID [--name NAME]     save a conference's settings
//	roomgate template use --id TEMPLATE [--conference ID] [--name NAME]   create a conference from it
//	roomgate template list | show --id ID | delete --id ID
//
// Conferences made here are owned by nobody (the command line is not a
// user); give them an owner with the API.
func templateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"template: want save, use, list, show or delete"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("template "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	id := fs.String("id", "", "template ID")
	confID := fs.String("conference", "", "conference ID")
	name := fs.String("name", "", "template name (save) or conference name (use)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case sub == "save" && *confID == "":
		return usageError{"template save: --conference is required"}
	case (sub == "use" || sub == "show" || sub == "delete") && *id == "":
		return usageError{fmt.Sprintf("template %s: --id is required", sub)}
	}
	st, svc, err := openService(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	sys := conf.System()
	switch sub {
	case "save":
		t, err := svc.SaveTemplate(ctx, sys, *confID, *name)
		if err != nil {
			return fmt.Errorf("saving template: %w", err)
		}
		return printJSON(stdout, t)
	case "use":
		c, err := svc.CreateFromTemplate(ctx, sys, *id, conf.TemplateOverrides{ID: *confID, Name: *name})
		if err != nil {
			return fmt.Errorf("creating conference from template %s: %w", *id, err)
		}
		return printJSON(stdout, c)
	case "list":
		ts, err := svc.ListTemplates(ctx, sys)
		if err != nil {
			return fmt.Errorf("listing templates: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tOWNER\tMODE\tACCESS")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Owner, t.Settings.Mode, t.Settings.Access)
		}
		return tw.Flush()
	case "show":
		t, err := svc.GetTemplate(ctx, sys, *id)
		if err != nil {
			return fmt.Errorf("showing template: %w", err)
		}
		return printJSON(stdout, t)
	case "delete":
		if err := svc.DeleteTemplate(ctx, sys, *id); err != nil {
			return fmt.Errorf("deleting template: %w", err)
		}
		fmt.Fprintf(stdout, "deleted template %s\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("template: unknown subcommand %q", sub)}
	}
}
