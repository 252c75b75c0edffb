package pdu

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of the decode tool.
const (
	ExitMatch    = 0 // decoded, and the re-encoding is byte-identical
	ExitMismatch = 1 // decoded, but the re-encoding differs
	ExitBadInput = 2 // usage error, bad hex, or the PDU does not decode
)

// Report is the outcome of decoding and re-encoding one PDU.
type Report struct {
	Kind      string `json:"kind"`
	Value     any    `json:"value"`
	Reencoded string `json:"reencoded"`
	Match     bool   `json:"match"`
}

// Check decodes b as kind, re-encodes the JSON view and compares the bytes.
func Check(kind string, b []byte) (*Report, error) {
	j, err := Decode(kind, b)
	if err != nil {
		return nil, err
	}
	out, err := Encode(kind, j)
	if err != nil {
		return nil, fmt.Errorf("re-encode: %w", err)
	}
	return &Report{Kind: kind, Value: j, Reencoded: hex.EncodeToString(out), Match: bytes.Equal(out, b)}, nil
}

// ParseHex reads hex text as found in captures and logs: whitespace, colons and a 0x prefix
// are ignored.
func ParseHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', ':':
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("parse hex input: %w", err)
	}
	return b, nil
}

// stripTPKT removes a TPKT header when the input is exactly one TPKT frame, as copied from a
// TCP stream (q931 and h245 kinds only).
func stripTPKT(kind string, b []byte) []byte {
	if (kind == KindQ931 || kind == KindH245) && len(b) > 4 && b[0] == 3 && int(b[2])<<8|int(b[3]) == len(b) {
		return b[4:]
	}
	return b
}

// RunDecodeTool implements "roomgate h323 decode": it reads a PDU as hex from the arguments
// or stdin, prints it as JSON with the re-encoding check, and returns the exit status
// (ExitMatch, ExitMismatch or ExitBadInput). The command wiring only passes its arguments.
func RunDecodeTool(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("h323 decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", KindUUIE, "PDU kind: uuie, ras, h245 or q931")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: roomgate h323 decode [-kind uuie|ras|h245|q931] [HEX...]")
		fmt.Fprintln(stderr, "Reads the PDU as hex from the arguments, or from stdin when none are given.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitBadInput
	}
	var text string
	if fs.NArg() > 0 {
		text = strings.Join(fs.Args(), "")
	} else {
		in, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			fmt.Fprintln(stderr, "read stdin:", err)
			return ExitBadInput
		}
		text = string(in)
	}
	b, err := ParseHex(text)
	if err != nil || len(b) == 0 {
		fmt.Fprintln(stderr, "no PDU: give hex on the command line or stdin", err)
		return ExitBadInput
	}
	b = stripTPKT(*kind, b)
	rep, err := Check(*kind, b)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadInput
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(stderr, "write:", err)
		return ExitBadInput
	}
	if !rep.Match {
		fmt.Fprintf(stderr, "re-encoding differs:\n in  %x\n out %s\n", b, rep.Reencoded)
		return ExitMismatch
	}
	return ExitMatch
}
