package video

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/pion/rtcp"
)

func TestKeyframeFeedback(t *testing.T) {
	k := KeyframeFeedback{SenderSSRC: 1, MediaSSRC: 0xabcdef}
	b, err := k.Marshal(true, true)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 2 {
		t.Fatalf("%d packets", len(pkts))
	}
	pli, ok := pkts[0].(*rtcp.PictureLossIndication)
	if !ok || pli.SenderSSRC != 1 || pli.MediaSSRC != 0xabcdef {
		t.Fatalf("PLI = %#v", pkts[0])
	}
	fir, ok := pkts[1].(*rtcp.FullIntraRequest)
	if !ok || len(fir.FIR) != 1 || fir.FIR[0].SSRC != 0xabcdef || fir.FIR[0].SequenceNumber != 1 {
		t.Fatalf("FIR = %#v", pkts[1])
	}
	if f := k.FIR(); f.FIR[0].SequenceNumber != 2 {
		t.Fatalf("FIR sequence number did not advance: %d", f.FIR[0].SequenceNumber)
	}
	b, err = k.Marshal(false, true)
	if err != nil {
		t.Fatal(err)
	}
	if pkts, _ := rtcp.Unmarshal(b); len(pkts) != 1 {
		t.Fatal("FIR only: wrong count")
	}
	if b, err := k.Marshal(false, false); b != nil || err != nil {
		t.Fatal("nothing asked, something built")
	}
}

func TestParseMediaControl(t *testing.T) {
	mc, err := ParseMediaControl([]byte(PictureFastUpdateBody))
	if err != nil || !mc.PictureFastUpdate {
		t.Fatalf("own body: %+v %v", mc, err)
	}
	// As Polycom and Cisco room systems send it, with a stream_id.
	withID := `<?xml version="1.0" encoding="ISO-8859-1"?><media_control><vc_primitive><to_encoder><picture_fast_update></picture_fast_update></to_encoder><stream_id>video1</stream_id></vc_primitive></media_control>`
	mc, err = ParseMediaControl([]byte(withID))
	if err != nil || !mc.PictureFastUpdate || len(mc.StreamIDs) != 1 || mc.StreamIDs[0] != "video1" {
		t.Fatalf("with stream_id: %+v %v", mc, err)
	}
	mc, err = ParseMediaControl([]byte(`<media_control><general_error>unsupported</general_error></media_control>`))
	if err != nil || mc.PictureFastUpdate || mc.GeneralError != "unsupported" {
		t.Fatalf("general_error: %+v %v", mc, err)
	}
	mc, err = ParseMediaControl([]byte(`<media_control><vc_primitive><to_encoder/></vc_primitive></media_control>`))
	if err != nil || mc.PictureFastUpdate {
		t.Fatalf("no fast update: %+v %v", mc, err)
	}
	for name, body := range map[string]string{
		"empty":      "",
		"not xml":    "picture_fast_update",
		"wrong root": `<foo><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></foo>`,
		"truncated":  `<media_control><vc_primitive>`,
		"too big":    "<media_control>" + strings.Repeat(" ", 9000) + "</media_control>",
	} {
		if _, err := ParseMediaControl([]byte(body)); !errors.Is(err, ErrBadMediaControl) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func tmmbrPacket(ssrc uint32, exp, mantissa, overhead uint32) []byte {
	b := []byte{0x83, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, ssrc)
	return binary.BigEndian.AppendUint32(b, exp<<26|mantissa<<9|overhead)
}

func TestParseTMMBR(t *testing.T) {
	tm, err := ParseTMMBR(tmmbrPacket(0x1234, 4, 62500, 40))
	if err != nil {
		t.Fatal(err)
	}
	if tm.SSRC != 0x1234 || tm.Bitrate != 1_000_000 || tm.Overhead != 40 {
		t.Fatalf("TMMBR = %+v", tm)
	}
	if tm, _ := ParseTMMBR(tmmbrPacket(1, 63, 0x1ffff, 0)); tm.Bitrate != math.MaxUint64 {
		t.Fatalf("huge TMMBR = %d", tm.Bitrate)
	}
	bad := map[string][]byte{
		"short":       tmmbrPacket(1, 1, 1, 1)[:19],
		"not RTPFB":   append([]byte{0x83, 206}, tmmbrPacket(1, 1, 1, 1)[2:]...),
		"FMT 1 NACK":  append([]byte{0x81}, tmmbrPacket(1, 1, 1, 1)[1:]...),
		"length past": append([]byte{0x83, 205, 0, 9}, tmmbrPacket(1, 1, 1, 1)[4:]...),
		"version 0":   append([]byte{0x03}, tmmbrPacket(1, 1, 1, 1)[1:]...),
	}
	for name, p := range bad {
		if _, err := ParseTMMBR(p); !errors.Is(err, ErrBadTMMBR) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestLimits(t *testing.T) {
	if got := LowestLimit([]uint64{0, 500_000, 300_000, 0, 900_000}); got != 300_000 {
		t.Fatalf("LowestLimit = %d", got)
	}
	if LowestLimit(nil) != 0 || LowestLimit([]uint64{0, 0}) != 0 {
		t.Fatal("no limits must mean 0")
	}
	if bps, ok := LimitFromRTCP(&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 256000}); !ok || bps != 256000 {
		t.Fatalf("REMB: %d %v", bps, ok)
	}
	if _, ok := LimitFromRTCP(&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(math.NaN())}); ok {
		t.Fatal("NaN REMB accepted")
	}
	if _, ok := LimitFromRTCP(&rtcp.PictureLossIndication{}); ok {
		t.Fatal("PLI taken as a limit")
	}
}

func TestNackCache(t *testing.T) {
	c := NewNackCache(500, 100)
	if c.Len() != 512 {
		t.Fatalf("Len = %d", c.Len())
	}
	for i := range 600 {
		seq := uint16(65500 + i) // wraps
		if err := c.Store(seq, []byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Lookup(65500); ok {
		t.Fatal("evicted packet still found")
	}
	last := uint16(65500 + 599 - 65536)
	if p, ok := c.Lookup(last); !ok || p[0] != byte(599%256) {
		t.Fatalf("latest packet: %v %v", p, ok)
	}
	if p, ok := c.Lookup(last - 511); !ok || p[0] != byte(88) {
		t.Fatalf("oldest kept packet: %v %v", p, ok)
	}
	if err := c.Store(1, make([]byte, 101)); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("oversized: %v", err)
	}

	var sent []byte
	nack := &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{
		{PacketID: last - 3, LostPackets: 0b101}, // last-3, last-2, last
		{PacketID: last - 600},                   // long gone
	}}
	resent, missing, err := c.Answer(nack, func(p []byte) error { sent = append(sent, p[0]); return nil })
	if err != nil || resent != 3 || missing != 1 {
		t.Fatalf("Answer = %d %d %v", resent, missing, err)
	}
	if string(sent) != string([]byte{byte(596 % 256), byte(597 % 256), byte(599 % 256)}) {
		t.Fatalf("re-sent %v", sent)
	}
	boom := errors.New("boom")
	if _, _, err := c.Answer(nack, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("send error lost: %v", err)
	}
}
