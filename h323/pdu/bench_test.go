package pdu

import (
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// benchPDU returns the benchmark inputs from the captures: a Setup with fastStart (and H.245
// in Setup), a TerminalCapabilitySet with H.261, H.264 and H.239 video, and a full RRQ.
func benchPDU(tb testing.TB, which string) (*per.Type, []byte) {
	tb.Helper()
	switch which {
	case "setup":
		for _, v := range vectors.Load(tb, KindUUIE) {
			if v.Capture == "h323plus-fast-h245insetup.pcapng" && v.Frame == "4" {
				return schema.H323UserInformation, v.Data
			}
		}
	case "tcs":
		for _, v := range vectors.Load(tb, KindUUIE) {
			if v.Capture != "h323plus-video-h239.pcapng" || v.Frame != "10" {
				continue
			}
			var d per.Decoder
			uu, err := d.Decode(schema.H323UserInformation, v.Data)
			if err != nil {
				tb.Fatal(err)
			}
			ctl := uu.Field("h323-uu-pdu").Field("h245Control")
			if ctl == nil || len(ctl.Elems) == 0 {
				tb.Fatal("no tunnelled H.245 in the video capture's Facility")
			}
			return schema.MultimediaSystemControlMessage, append([]byte(nil), ctl.Elems[0].Bytes...)
		}
	case "rrq":
		for _, v := range vectors.Load(tb, KindRAS) {
			if v.Capture == "h323plus-gk-routed.pcapng" && strings.Contains(v.Info, "registrationRequest") {
				return schema.RasMessage, v.Data
			}
		}
	}
	tb.Fatalf("benchmark input %s not found in the vectors", which)
	return nil, nil
}

func TestBenchInputs(t *testing.T) {
	for _, which := range []string{"setup", "tcs", "rrq"} {
		typ, b := benchPDU(t, which)
		j, err := Decode(map[*per.Type]string{schema.H323UserInformation: KindUUIE,
			schema.MultimediaSystemControlMessage: KindH245, schema.RasMessage: KindRAS}[typ], b)
		if err != nil {
			t.Fatalf("%s: %v", which, err)
		}
		text := strings.ToLower(toText(j))
		want := map[string][]string{"setup": {"faststart", "setup"}, "tcs": {"terminalcapabilityset", "0.0.8.241.0.0.1", "0.0.8.239.1.2"},
			"rrq": {"registrationrequest"}}[which]
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s input lacks %s", which, w)
			}
		}
	}
}

func benchDecode(b *testing.B, which string) {
	typ, data := benchPDU(b, which)
	var d per.Decoder
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(typ, data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, which string) {
	typ, data := benchPDU(b, which)
	var d per.Decoder
	v, err := d.Decode(typ, data)
	if err != nil {
		b.Fatal(err)
	}
	var e per.Encoder
	var w per.Writer
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.EncodeTo(&w, typ, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSetupFastStart(b *testing.B) { benchDecode(b, "setup") }
func BenchmarkEncodeSetupFastStart(b *testing.B) { benchEncode(b, "setup") }
func BenchmarkDecodeTCSVideo(b *testing.B)       { benchDecode(b, "tcs") }
func BenchmarkEncodeTCSVideo(b *testing.B)       { benchEncode(b, "tcs") }
func BenchmarkDecodeRRQ(b *testing.B)            { benchDecode(b, "rrq") }
func BenchmarkEncodeRRQ(b *testing.B)            { benchEncode(b, "rrq") }
