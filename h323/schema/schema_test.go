package schema

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
)

// TestTablesCurrent regenerates the tables from the ASN.1 modules and compares them with the
// committed file, so an edited generator or module cannot drift from the tables silently.
func TestTablesCurrent(t *testing.T) {
	asn := filepath.Join(vectors.Dir(t), "..", "..", "asn1")
	if _, err := os.Stat(filepath.Join(asn, "h225.asn")); err != nil {
		t.Fatalf("ASN.1 modules not found: %v", err)
	}
	out := filepath.Join(t.TempDir(), "tables_gen.go")
	cmd := exec.Command("go", "run", "../internal/asngen", "-asn", asn, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("asngen: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("tables_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("tables_gen.go is stale: run go generate ./h323/schema")
	}
}

func TestWellKnownTypes(t *testing.T) {
	setup := Lookup(ModuleH225, "Setup-UUIE")
	if setup == nil || setup.Kind != per.KindSequence || !setup.Ext {
		t.Fatalf("Setup-UUIE = %+v", setup)
	}
	if i := setup.FieldIndex("fastStart"); i < setup.Root {
		t.Errorf("fastStart is at %d, expected an extension addition after root %d", i, setup.Root)
	}
	alias := Lookup(ModuleH225, "AliasAddress")
	dd := alias.Fields[alias.FieldIndex("dialedDigits")].Type
	if dd.Alphabet != "#*,0123456789" || dd.Lb != 1 || dd.Ub != 128 {
		t.Errorf("dialedDigits = %+v", dd)
	}
	seq := Lookup(ModuleH225, "RequestSeqNum")
	if !seq.HasLb || !seq.HasUb || seq.Lb != 1 || seq.Ub != 65535 {
		t.Errorf("RequestSeqNum = %+v", seq)
	}
	// Names in different modules do not collide.
	if Lookup(ModuleH225, "TransportAddress") == Lookup(ModuleH245, "TransportAddress") {
		t.Error("H.225.0 and H.245 TransportAddress resolved to one type")
	}
	// Parameterized H.235 types are instantiated with their argument as an open type.
	tok := Lookup(ModuleH225, "CryptoH323Token")
	cert := tok.Fields[tok.FieldIndex("cryptoEPCert")].Type
	if cert.Kind != per.KindSequence || cert.Fields[0].Type.Kind != per.KindOpenType || cert.Fields[0].Type.Elem == nil {
		t.Errorf("SIGNED{EncodedPwdCertToken} = %+v", cert)
	}
	if len(Names()) < 400 {
		t.Errorf("only %d named types", len(Names()))
	}
}
