package pdu

import (
	"bytes"
	"strings"
	"testing"
)

const grqHex = "00000000060008914a0004007f00000106b70000"

func runTool(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := RunDecodeTool(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDecodeTool(t *testing.T) {
	code, out, _ := runTool(t, "", "-kind", "ras", grqHex)
	if code != ExitMatch || !strings.Contains(out, `"gatekeeperRequest"`) || !strings.Contains(out, `"match": true`) {
		t.Fatalf("exit %d, output %s", code, out)
	}
	// Hex from stdin with spacing and colons, TPKT-framed H.245 (a roundTripDelayRequest).
	code, out, _ = runTool(t, "03 00 00 07\n09:00:01\n", "-kind", "h245")
	if code != ExitMatch || !strings.Contains(out, "roundTripDelayRequest") {
		t.Fatalf("stdin: exit %d, output %s", code, out)
	}
	// Decodable but not canonical: a non-zero padding bit in the last octet re-encodes as zero.
	code, _, _ = runTool(t, "", "-kind", "ras", "00000000060008914a0004007f00000106b70001")
	if code != ExitMismatch {
		t.Fatalf("non-canonical padding: exit %d, want %d", code, ExitMismatch)
	}
	for _, args := range [][]string{{"-kind", "ras", "zz"}, {"-kind", "sdp", grqHex}, {"-kind", "ras", "ff"}, {"-bogus"}} {
		if code, _, _ := runTool(t, "", args...); code != ExitBadInput {
			t.Errorf("%v: exit %d, want %d", args, code, ExitBadInput)
		}
	}
	if code, _, _ := runTool(t, ""); code != ExitBadInput {
		t.Errorf("empty stdin: exit %d", code)
	}
}
