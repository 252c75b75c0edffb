package loadgen

import (
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// fakeServeEnv makes the test binary act as a roomgate server, so that the
// tool's -spawn mode can be tested without the real server.
const fakeServeEnv = "LOADGEN_TEST_FAKE_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServeEnv) == "1" {
		os.Exit(fakeServeMain(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// fakeServeMain implements "serve --config FILE" over the fake server,
// listening where the generated config says, until SIGTERM.
func fakeServeMain(args []string) int {
	if len(args) != 3 || args[0] != "serve" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "usage: serve --config FILE (got %q)\n", args)
		return 2
	}
	cfg, err := os.ReadFile(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	listen := regexp.MustCompile(`(?m)^(sip|http):\n  listen: "([^"]+)"`).FindAllSubmatch(cfg, -1)
	if len(listen) != 2 {
		fmt.Fprintf(os.Stderr, "no sip/http listen addresses in\n%s", cfg)
		return 1
	}
	password := os.Getenv("ROOMGATE_ADMIN_PASSWORD")
	f, err := startFakeServer(string(listen[0][2]), string(listen[1][2]), password, 0, func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", a...)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	f.close()
	return 0
}
