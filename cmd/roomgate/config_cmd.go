package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/roomgate/roomgate/config"
)

// loadConfig loads the configuration named by --config (or the defaults)
// with the process environment applied.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, os.Environ())
}

func configCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"config: want defaults, keys or check"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	switch sub {
	case "defaults":
		_, err := stdout.Write(config.DefaultsYAML())
		return err
	case "keys":
		for _, k := range config.Keys() {
			fmt.Fprintf(stdout, "%-24s %s\n", k, config.EnvName(k))
		}
		return nil
	case "check":
		if _, err := loadConfig(*path); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "configuration is valid")
		return nil
	default:
		return usageError{fmt.Sprintf("config: unknown subcommand %q", sub)}
	}
}
