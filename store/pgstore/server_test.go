package pgstore

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A real PostgreSQL server for the tests, started on first use and stopped
// by TestMain: initdb into a temporary directory, postgres on 127.0.0.1 at
// a free port with its socket in that directory, fsync off. PostgreSQL
// refuses to run as root; under root the server runs as the "postgres"
// user that Debian's postgresql package creates.

// debianPackage is what provides the server binaries on Debian.
const debianPackage = "postgresql"

// pgStartTimeout bounds initdb plus server start-up.
const pgStartTimeout = 60 * time.Second

// pgServer is the test server. start runs once; its error is kept so that
// every test that needs the server fails with the same reason.
type pgServer struct {
	once     sync.Once
	err      error
	dir      string // temporary directory: data/, socket, pwfile, log
	bin      string // directory of initdb, pg_ctl and postgres
	port     int
	password string
	cred     *credential // nil when not running as root
	cmd      *exec.Cmd
	exited   chan struct{} // closed when postgres exits
	logMu    sync.Mutex
	log      []string // last lines of the server's log
	dbs      atomic.Int64
}

// findPostgres returns the directory holding initdb, pg_ctl and postgres:
// from PATH, else the newest /usr/lib/postgresql/*/bin (Debian keeps them
// off PATH). Symbolic links are resolved so that the three come from one
// installation.
func findPostgres() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	candidates = append(candidates, versions...)
	candidates = append(candidates, "/usr/local/bin", "/usr/local/pgsql/bin")
	for _, dir := range candidates {
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				ok = false
				break
			}
		}
		if ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or /usr/lib/postgresql/*/bin: "+
		"install the Debian package %q (scripts/install-peers.sh does)", debianPackage)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// command returns a command for the server binary name, run as the
// server's user in its directory, in the C locale so that the log is in
// English.
func (p *pgServer) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "TZ=UTC")
	if p.cred != nil {
		cmd.Env = append(cmd.Env, "HOME="+p.cred.home, "USER="+p.cred.name)
		p.cred.apply(cmd)
	}
	return cmd
}

func (p *pgServer) start() error {
	p.once.Do(func() { p.err = p.doStart() })
	return p.err
}

func (p *pgServer) doStart() error {
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	bin, err := findPostgres()
	if err != nil {
		return err
	}
	p.bin = bin
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, PostgreSQL needs an unprivileged user: no user \"postgres\" (%v); "+
				"install the Debian package %q, which creates it", err, debianPackage)
		}
		if p.cred, err = newCredential(u); err != nil {
			return err
		}
	}
	// The socket path must stay under the kernel's 107-byte limit, so the
	// directory is short and in /tmp, which every user may traverse.
	if p.dir, err = os.MkdirTemp("/tmp", "rgpg-"); err != nil {
		return fmt.Errorf("creating the server directory: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, p.cred.uid, p.cred.gid); err != nil {
			return fmt.Errorf("giving %s to %s: %w", p.dir, p.cred.name, err)
		}
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	p.password = hex.EncodeToString(pw)
	pwfile := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(pwfile, p.cred.uid, p.cred.gid); err != nil {
			return fmt.Errorf("giving the password file to %s: %w", p.cred.name, err)
		}
	}
	data := filepath.Join(p.dir, "data")
	out, err := p.command(ctx, "initdb", "-D", data, "--username=postgres", "--pwfile="+pwfile,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		return fmt.Errorf("finding a free port: %w", err)
	}
	// Not CommandContext: the server outlives this function.
	p.cmd = p.command(context.Background(), "postgres", "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(p.port),
		"-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "lc_messages=C", "-c", "log_min_messages=warning")
	setParentDeathSignal(p.cmd)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	p.exited = make(chan struct{})
	ready := make(chan struct{})
	go p.readLog(stderr, ready)
	select {
	case <-ready:
		return nil
	case <-p.exited:
		return fmt.Errorf("postgres exited at start-up:\n%s", p.logTail())
	case <-ctx.Done():
		return fmt.Errorf("postgres not ready after %v:\n%s", pgStartTimeout, p.logTail())
	}
}

// readLog keeps the server's log lines, closes ready when the server
// accepts connections, and reaps the process when the log ends.
func (p *pgServer) readLog(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		p.logMu.Lock()
		p.log = append(p.log, line)
		if len(p.log) > 200 {
			p.log = p.log[len(p.log)-200:]
		}
		p.logMu.Unlock()
		if !signalled && strings.Contains(line, "ready to accept connections") {
			signalled = true
			close(ready)
		}
	}
	_, _ = io.Copy(io.Discard, r)
	_ = p.cmd.Wait()
	close(p.exited)
}

func (p *pgServer) logTail() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return strings.Join(p.log, "\n")
}

// stop shuts the server down (fast: open sessions are ended) and removes
// its directory. It is a no-op when the server never started.
func (p *pgServer) stop() error {
	if p.dir == "" {
		return nil
	}
	defer os.RemoveAll(p.dir)
	if p.cmd == nil || p.exited == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := p.command(ctx, "pg_ctl", "stop", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w").CombinedOutput()
	if err != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return nil
}

// dsn returns the URL of database db on the server.
func (p *pgServer) dsn(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", p.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// newDatabase creates an empty database for t and returns its DSN; the
// test fails when the server cannot start.
func (p *pgServer) newDatabase(t testing.TB) string {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("PostgreSQL test server: %v", err)
	}
	name := fmt.Sprintf("rg_test_%d", p.dbs.Add(1))
	conn, err := pgx.Connect(t.Context(), p.dsn("postgres"))
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	return p.dsn(name)
}
