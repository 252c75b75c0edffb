// Package vectors loads the PER and Q.931 test vectors extracted from real H.323 captures
// (../shared/testdata/h323/vectors.tsv next to the repository) for the H.323 packages' tests.
// A test that cannot find them fails: the vectors are the proof that the stack interoperates.
package vectors

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Vector is one row of vectors.tsv.
type Vector struct {
	Capture string
	Frame   string
	Kind    string // ras, q931, uuie, h245
	Info    string // tshark's summary of the frame
	Data    []byte
}

// Name identifies the vector in test output.
func (v Vector) Name() string { return v.Capture + "#" + v.Frame + "/" + v.Kind }

// Malformed reports whether tshark flagged the frame as malformed (a negative vector).
func (v Vector) Malformed() bool { return strings.Contains(v.Info, "Malformed") }

// Dir returns the shared H.323 test data directory, found by walking up from the working
// directory to the repository root (the directory holding go.mod).
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "testdata", "h323")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("vectors: repository root (go.mod) not found above the test directory")
		}
		dir = parent
	}
}

// Load returns every vector, optionally only those of the given kinds.
func Load(tb testing.TB, kinds ...string) []Vector {
	tb.Helper()
	path := filepath.Join(Dir(tb), "vectors.tsv")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("vectors: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	var out []Vector
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 5 || c[0] == "capture" {
			continue
		}
		if len(kinds) > 0 && !contains(kinds, c[2]) {
			continue
		}
		b, err := hex.DecodeString(c[4])
		if err != nil {
			tb.Fatalf("vectors: %s#%s: %v", c[0], c[1], err)
		}
		out = append(out, Vector{Capture: c[0], Frame: c[1], Kind: c[2], Info: c[3], Data: b})
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("vectors: %v", err)
	}
	if len(out) == 0 {
		tb.Fatalf("vectors: none of kinds %v in %s", kinds, path)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
