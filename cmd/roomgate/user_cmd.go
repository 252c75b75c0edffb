package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/config"
	"github.com/roomgate/roomgate/store"
	"github.com/roomgate/roomgate/store/pgstore"
)

// openService opens the configured store and a Service over it, for the
// one-shot commands. The caller closes the store.
func openService(ctx context.Context, cfgPath string, stderr io.Writer) (conf.Store, *conf.Service, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return st, conf.NewService(st, log), nil
}

// openStore opens PostgreSQL when database.dsn names it, else SQLite under
// data_dir. The DSN is never put into an error: it may hold a password.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (conf.Store, error) {
	if cfg.Database.DSN != "" {
		st, err := pgstore.Open(ctx, cfg.Database.DSN, log)
		if err != nil {
			return nil, fmt.Errorf("opening the PostgreSQL store (database.dsn): %w", err)
		}
		return st, nil
	}
	st, err := store.OpenSQLite(ctx, cfg.DataDir, log)
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
	}
	return st, nil
}

// userCommand manages the address book's users in the store; the command
// line acts as an administrator (conf.System).
//
//	roomgate user create --id ID [--name NAME] [--email E] [--role user|operator|admin] [--password P]
//	roomgate user list | show --id ID | delete --id ID
//	roomgate user passwd --id ID [--password P]
//
// --password-file reads the password from the first line of a file, so
// that scripts need not put it on the command line, where other local
// users could read it in the process list.
func userCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"user: want create, list, show, passwd or delete"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	id := fs.String("id", "", "user ID")
	name := fs.String("name", "", "display name")
	email := fs.String("email", "", "e-mail address")
	role := fs.String("role", "", "user, operator or admin")
	password := fs.String("password", "", "password (prefer --password-file)")
	passwordFile := fs.String("password-file", "", "file whose first line is the password")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub != "list" && *id == "" {
		return usageError{fmt.Sprintf("user %s: --id is required", sub)}
	}
	pw := *password
	if *passwordFile != "" {
		if pw != "" {
			return usageError{fmt.Sprintf("user %s: give --password or --password-file, not both", sub)}
		}
		raw, err := os.ReadFile(*passwordFile)
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		pw, _, _ = strings.Cut(string(raw), "\n")
		pw = strings.TrimSuffix(pw, "\r")
	}
	st, svc, err := openService(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		if pw == "" {
			return usageError{"user create: give --password or --password-file"}
		}
		u, err := svc.CreateUser(ctx, conf.System(), conf.UserInput{ID: *id, DisplayName: *name, Email: *email, Role: *role, Password: pw})
		if err != nil {
			return fmt.Errorf("creating user: %w", err)
		}
		return printJSON(stdout, u)
	case "passwd":
		if pw == "" {
			return usageError{"user passwd: give --password or --password-file"}
		}
		u, err := svc.GetUser(ctx, *id)
		if err != nil {
			return fmt.Errorf("changing password: %w", err)
		}
		if _, err := svc.UpdateUser(ctx, conf.System(), conf.UserInput{ID: u.ID, DisplayName: u.DisplayName, Email: u.Email, Password: pw}); err != nil {
			return fmt.Errorf("changing password: %w", err)
		}
		fmt.Fprintf(stdout, "password of %s changed\n", u.ID)
		return nil
	case "list":
		us, err := svc.ListUsers(ctx)
		if err != nil {
			return fmt.Errorf("listing users: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tROLE")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.DisplayName, u.Email, u.Role)
		}
		return tw.Flush()
	case "show":
		u, err := svc.GetUser(ctx, *id)
		if err != nil {
			return fmt.Errorf("showing user: %w", err)
		}
		return printJSON(stdout, u)
	case "delete":
		if err := svc.DeleteUser(ctx, conf.System(), *id); err != nil {
			return fmt.Errorf("deleting user: %w", err)
		}
		fmt.Fprintf(stdout, "deleted user %s\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("user: unknown subcommand %q", sub)}
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
