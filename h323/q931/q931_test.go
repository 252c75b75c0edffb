package q931

import (
	"bytes"
	"errors"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
)

// TestVectors parses every Q.931 message from the captures, re-encodes it byte for byte, and
// checks that its User-user content is the uuie vector of the same frame.
func TestVectors(t *testing.T) {
	all := vectors.Load(t, "q931", "uuie")
	uuie := map[string][]byte{}
	for _, v := range all {
		if v.Kind == "uuie" {
			uuie[v.Capture+"#"+v.Frame] = v.Data
		}
	}
	var n, withUU int
	var m Message
	for _, v := range all {
		if v.Kind != "q931" {
			continue
		}
		n++
		if err := m.Unmarshal(v.Data); err != nil {
			t.Errorf("%s: %v", v.Name(), err)
			continue
		}
		out, err := m.AppendBinary(nil)
		if err != nil || !bytes.Equal(out, v.Data) {
			t.Errorf("%s: re-encode mismatch (%v)\n got %x\nwant %x", v.Name(), err, out, v.Data)
		}
		uu, err := m.UserUser()
		if err != nil {
			t.Errorf("%s: %v", v.Name(), err)
			continue
		}
		want, ok := uuie[v.Capture+"#"+v.Frame]
		if !ok {
			t.Errorf("%s: no uuie vector for the frame", v.Name())
			continue
		}
		if !bytes.Equal(uu, want) {
			t.Errorf("%s: user-user differs from the uuie vector", v.Name())
		}
		withUU++
	}
	t.Logf("q931 vectors: %d parsed and re-encoded byte-exact, %d with user-user matching", n, withUU)
	if n != 107 {
		t.Errorf("expected 107 q931 vectors, found %d", n)
	}
}

func TestSetupFields(t *testing.T) {
	// h323plus Setup header: call reference 0x00c8, Bearer capability, Display "caller\0".
	b := []byte{0x08, 0x02, 0x00, 0xc8, 0x05, 0x04, 0x03, 0x88, 0x93, 0xa5, 0x28, 0x07,
		'c', 'a', 'l', 'l', 'e', 'r', 0, 0x7e, 0x00, 0x02, 0x05, 0x00}
	var m Message
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if m.Type != Setup || m.CallRef != 0xc8 || m.FromDestination || m.CallRefLen != 2 {
		t.Fatalf("header = %+v", m)
	}
	if m.Display() != "caller" {
		t.Errorf("Display = %q", m.Display())
	}
	ie, _ := m.Get(IEBearerCapability)
	bc, err := ParseBearer(ie.Data)
	if err != nil || bc.TransferCapability != 8 || bc.TransferRate != 0x13 || bc.Layer1 != 5 {
		t.Errorf("bearer = %+v, %v", bc, err)
	}
	uu, err := m.UserUser()
	if err != nil || !bytes.Equal(uu, []byte{0}) {
		t.Errorf("UserUser = %x, %v", uu, err)
	}
}

func TestBuildReleaseComplete(t *testing.T) {
	m := Message{CallRefLen: 2, CallRef: 0x1234, FromDestination: true, Type: ReleaseComplete}
	m.SetUserUser([]byte{0xAA})
	m.Set(IECause, AppendCause(nil, Cause{Value: CauseUserBusy}))
	m.Set(IESendingComplete, nil)
	m.Set(IEDisplay, []byte("room"))
	out, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x08, 0x02, 0x92, 0x34, 0x5a, 0x08, 0x02, 0x80, 0x91, 0x28, 0x04, 'r', 'o', 'o', 'm',
		0x7e, 0x00, 0x02, 0x05, 0xaa, 0xa1}
	if !bytes.Equal(out, want) {
		t.Fatalf("got  %x\nwant %x", out, want)
	}
	var back Message
	if err := back.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	c, err := back.Cause()
	if err != nil || c.Value != CauseUserBusy || c.Location != 0 {
		t.Errorf("cause = %+v, %v", c, err)
	}
}

func TestPartyNumberAndProgress(t *testing.T) {
	p := PartyNumber{Type: 0, Plan: 1, HasIndicators: true, Presentation: 0, Screening: 1, Digits: "5295672"}
	b := AppendPartyNumber(nil, p)
	got, err := ParsePartyNumber(b)
	if err != nil || got != p {
		t.Fatalf("party number round trip = %+v, %v", got, err)
	}
	// Called party number from the ABILIS capture: 0xc1 = unknown/E.164 without octet 3a.
	got, err = ParsePartyNumber([]byte{0xc1, '9', '2'})
	if err != nil || got.Digits != "92" || got.HasIndicators || got.Plan != 1 || got.Type != 4 {
		t.Fatalf("called = %+v, %v", got, err)
	}
	pi := ProgressIndicator{Location: 1, Description: 8}
	back, err := ParseProgress(AppendProgress(nil, pi))
	if err != nil || back != pi {
		t.Fatalf("progress = %+v, %v", back, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0x08, 0x02}, ErrTruncated},
		{[]byte{0x09, 0x02, 0, 1, 5}, ErrDiscriminator},
		{[]byte{0x08, 0x03, 0, 1, 2, 5}, ErrCallRef},
		{[]byte{0x08, 0x02, 0, 1}, ErrTruncated},
		{[]byte{0x08, 0x02, 0, 1, 5, 0x28}, ErrTruncated},
		{[]byte{0x08, 0x02, 0, 1, 5, 0x28, 5, 'a'}, ErrTruncated},
		{[]byte{0x08, 0x02, 0, 1, 5, 0x7e, 0xff, 0xff, 5}, ErrTruncated},
		{[]byte{0x08, 0x02, 0, 1, 0x85}, ErrIE},
	} {
		var m Message
		if err := m.Unmarshal(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("Unmarshal(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
	var m Message
	if _, err := m.UserUser(); !errors.Is(err, ErrNoIE) {
		t.Errorf("UserUser on empty = %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, v := range vectors.Load(f, "q931") {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.Unmarshal(b); err != nil {
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encode of a parsed message failed: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encode differs:\n got %x\nwant %x", out, b)
		}
		for _, ie := range m.IEs {
			switch ie.ID {
			case IECause:
				_, _ = ParseCause(ie.Data)
			case IEBearerCapability:
				_, _ = ParseBearer(ie.Data)
			case IECallingNumber, IECalledNumber:
				_, _ = ParsePartyNumber(ie.Data)
			case IEProgress:
				_, _ = ParseProgress(ie.Data)
			}
		}
	})
}

func BenchmarkUnmarshalSetup(b *testing.B) {
	var setup []byte
	for _, v := range vectors.Load(b, "q931") {
		if v.Capture == "h323plus-fast-h245insetup.pcapng" && v.Frame == "4" {
			setup = v.Data
		}
	}
	var m Message
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(setup); err != nil {
			b.Fatal(err)
		}
		var err error
		if buf, err = m.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
