package mail

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// aiosmtpdPackage is the Debian package the interop tests need.
const aiosmtpdPackage = "python3-aiosmtpd"

// sinkPython finds a python3 that can import aiosmtpd: the one on PATH,
// or Debian's own when PATH leads to another installation. A missing
// package fails the test: it is a broken test environment, not a reason
// to skip.
func sinkPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import aiosmtpd").Run() == nil {
			return py
		}
	}
	t.Fatalf("no python3 with aiosmtpd: install the Debian package %s (scripts/install-peers.sh)", aiosmtpdPackage)
	return ""
}

// sink is a running aiosmtpd started by a test.
type sink struct {
	port    int
	maildir string
}

// startSink runs testdata/smtpsink.py with args, waits until it listens
// and stops it when the test ends.
func startSink(t *testing.T, args ...string) *sink {
	t.Helper()
	py := sinkPython(t)
	dir := filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(py, append([]string{"testdata/smtpsink.py", "--maildir", dir}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the SMTP sink: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The sink prints its port once it accepts connections; it exits
	// (EOF) if it cannot start.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("SMTP sink did not start: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "LISTENING ")))
	if err != nil {
		t.Fatalf("SMTP sink said %q", line)
	}
	return &sink{port: port, maildir: dir}
}

// messages reads the stored messages, sorted by their X-RcptTo.
func (s *sink) messages(t *testing.T) []*netmail.Message {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.maildir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []*netmail.Message
	for _, e := range ents {
		f, err := os.Open(filepath.Join(s.maildir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := netmail.ReadMessage(f)
		if err != nil {
			t.Fatalf("stored message %s: %v", e.Name(), err)
		}
		body, err := readAll(m)
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		m.Body = strings.NewReader(body)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Header.Get("X-RcptTo") < out[j].Header.Get("X-RcptTo") })
	return out
}

func readAll(m *netmail.Message) (string, error) {
	var b strings.Builder
	_, err := bufio.NewReader(m.Body).WriteTo(&b)
	return b.String(), err
}

// testCert makes a self-signed certificate for 127.0.0.1, writes it and
// its key as PEM files and returns them with a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sink.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// tlsTo is a client TLS configuration trusting roots.
func tlsTo(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
