package interop

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// harness is what TestMain prepares once for every test of the package.
type harness struct {
	// tmp holds the built binary; TestMain removes it at the end.
	tmp string
	// build builds the binary on first use, so that listing tests or fuzzing
	// the WAV reader does not compile the server.
	build sync.Once
	// bin is the roomgate binary under test, or "" when it could not be built.
	bin string
	// buildErr says why bin is empty; tests that need the server fail with it.
	buildErr error
	// ports hands out RTP port blocks to servers and peers.
	ports *portBlocks
}

// env is set once by TestMain before any test runs and only read afterwards.
var env harness

// TestMain owns the harness: the roomgate binary, built once for all tests
// (or the one named by ROOMGATE_BIN, for runs inside a network namespace where
// the go command cannot reach the module proxy), and the RTP port blocks. It
// removes the binary at the end and checks that no test left a goroutine
// behind.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "roomgate-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: creating temp dir:", err)
		os.Exit(2)
	}
	env.tmp = tmp
	env.ports = newPortBlocks(os.Getpid())
	code := m.Run()
	os.RemoveAll(tmp)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildRoomgate compiles ./cmd/roomgate of the module this package is part of.
func buildRoomgate(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "roomgate")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/roomgate")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building ./cmd/roomgate in %s: %w\n%s", root, err, out.String())
	}
	return bin, nil
}

// moduleRoot walks up from the package directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding module root: no go.mod above the interop package")
		}
		dir = parent
	}
}

// roomgateBinary returns the binary built by TestMain or fails the test with
// the build output.
func roomgateBinary(t testing.TB) string {
	t.Helper()
	env.build.Do(func() {
		if bin := os.Getenv("ROOMGATE_BIN"); bin != "" {
			env.bin, env.buildErr = filepath.Abs(bin)
			return
		}
		env.bin, env.buildErr = buildRoomgate(env.tmp)
	})
	if env.buildErr != nil {
		t.Fatalf("roomgate binary unavailable: %v", env.buildErr)
	}
	return env.bin
}

// debianPackage names the package that provides each peer binary.
var debianPackage = map[string]string{
	"sipp":      "sip-tester",
	"baresip":   "baresip",
	"linphonec": "linphone-cli",
	"tshark":    "tshark",
	"sox":       "sox",
}

// requirePeer returns the path of a peer binary. A missing peer is a failure,
// not a skip: the interop suite is only meaningful with all of them.
func requirePeer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[name]
		if pkg == "" {
			pkg = name
		}
		t.Fatalf("%s not found in PATH: install the Debian package %q (apt-get install %s, or run make test as root)", name, pkg, pkg)
	}
	return p
}

// portBlocks hands out contiguous, even-aligned UDP port blocks below the
// Linux ephemeral range (32768+), so RTP ranges of parallel servers and peers
// never overlap each other nor ports the kernel gives to port-0 sockets. The
// starting point depends on the process ID so two test binaries running at
// once (go test ./... runs packages in parallel) are unlikely to collide, and
// every block is probed before it is handed out.
type portBlocks struct {
	mu   sync.Mutex
	next int
}

const (
	portBlockLow  = 20000
	portBlockHigh = 32000
)

func newPortBlocks(seed int) *portBlocks {
	return &portBlocks{next: portBlockLow + (seed%12)*1000}
}

// take returns the first port of a free block of n ports (n rounded up to even).
func (p *portBlocks) take(t testing.TB, n int) int {
	t.Helper()
	n += n & 1
	p.mu.Lock()
	defer p.mu.Unlock()
	for tries := 0; tries < (portBlockHigh-portBlockLow)/n+1; tries++ {
		if p.next+n > portBlockHigh {
			p.next = portBlockLow
		}
		base := p.next
		p.next += n
		if udpRangeFree(base, n) {
			return base
		}
	}
	t.Fatalf("no free block of %d UDP ports in %d-%d", n, portBlockLow, portBlockHigh)
	return 0
}
