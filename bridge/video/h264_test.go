package video

import (
	"bytes"
	"errors"
	"testing"
)

func TestInspectPayload(t *testing.T) {
	idrFU := fuA(idrNAL(3000, true), 1000)
	idrFU2 := fuA(idrNAL(3000, false), 1000)
	sliceFU := fuA(sliceNAL(2000), 1000)
	tests := []struct {
		name     string
		p        []byte
		want     PayloadInfo
		keyframe bool
		err      error
	}{
		{"single SPS", testSPS, PayloadInfo{Packetization: NALSPS, First: NALSPS, FUStart: true, FUEnd: true, HasSPS: true}, true, nil},
		{"single PPS", testPPS, PayloadInfo{Packetization: NALPPS, First: NALPPS, FUStart: true, FUEnd: true, HasPPS: true}, true, nil},
		{"single IDR first slice", idrNAL(100, true), PayloadInfo{Packetization: NALIDR, First: NALIDR, FUStart: true, FUEnd: true, HasIDR: true, HasSlice: true, IDRStart: true}, true, nil},
		{"single IDR second slice", idrNAL(100, false), PayloadInfo{Packetization: NALIDR, First: NALIDR, FUStart: true, FUEnd: true, HasIDR: true, HasSlice: true}, false, nil},
		{"single non-IDR", sliceNAL(100), PayloadInfo{Packetization: NALSlice, First: NALSlice, FUStart: true, FUEnd: true, HasSlice: true}, false, nil},
		{"single SEI", []byte{0x06, 0x05, 0x01, 0x80}, PayloadInfo{Packetization: NALSEI, First: NALSEI, FUStart: true, FUEnd: true}, false, nil},
		{"STAP-A SPS PPS", stapA(testSPS, testPPS), PayloadInfo{Packetization: NALSTAPA, First: NALSPS, FUStart: true, FUEnd: true, HasSPS: true, HasPPS: true}, true, nil},
		{"STAP-A SPS PPS IDR", stapA(testSPS, testPPS, idrNAL(50, true)), PayloadInfo{Packetization: NALSTAPA, First: NALSPS, FUStart: true, FUEnd: true, HasSPS: true, HasPPS: true, HasIDR: true, HasSlice: true, IDRStart: true}, true, nil},
		{"STAP-A SEI IDR", stapA([]byte{0x06, 0x05, 0x01, 0x80}, idrNAL(50, true)), PayloadInfo{Packetization: NALSTAPA, First: NALSEI, FUStart: true, FUEnd: true, HasIDR: true, HasSlice: true, IDRStart: true}, true, nil},
		{"STAP-A non-IDR", stapA(sliceNAL(20), sliceNAL(30)), PayloadInfo{Packetization: NALSTAPA, First: NALSlice, FUStart: true, FUEnd: true, HasSlice: true}, false, nil},
		{"FU-A IDR start", idrFU[0], PayloadInfo{Packetization: NALFUA, First: NALIDR, FUStart: true, HasIDR: true, HasSlice: true, IDRStart: true}, true, nil},
		{"FU-A IDR middle", idrFU[1], PayloadInfo{Packetization: NALFUA, First: NALIDR, HasIDR: true, HasSlice: true}, false, nil},
		{"FU-A IDR end", idrFU[2], PayloadInfo{Packetization: NALFUA, First: NALIDR, FUEnd: true, HasIDR: true, HasSlice: true}, false, nil},
		{"FU-A IDR second slice start", idrFU2[0], PayloadInfo{Packetization: NALFUA, First: NALIDR, FUStart: true, HasIDR: true, HasSlice: true}, false, nil},
		{"FU-A non-IDR start", sliceFU[0], PayloadInfo{Packetization: NALFUA, First: NALSlice, FUStart: true, HasSlice: true}, false, nil},
		{"empty", nil, PayloadInfo{}, false, ErrEmptyPayload},
		{"forbidden bit", []byte{0xe5, 0x88}, PayloadInfo{}, false, ErrForbiddenBit},
		{"reserved type 0", []byte{0x00, 0x01}, PayloadInfo{}, false, ErrUnsupportedNAL},
		{"reserved type 31", []byte{0x1f, 0x01}, PayloadInfo{}, false, ErrUnsupportedNAL},
		{"STAP-B", []byte{0x19, 0, 0, 0, 1, 0x65}, PayloadInfo{}, false, ErrUnsupportedNAL},
		{"FU-B", []byte{0x1d, 0x85, 0, 0, 0x88}, PayloadInfo{}, false, ErrUnsupportedNAL},
		{"FU-A too short", []byte{0x7c, 0x85}, PayloadInfo{}, false, ErrShortPacket},
		{"STAP-A empty", []byte{0x78}, PayloadInfo{}, false, ErrBadAggregate},
		{"STAP-A length past end", []byte{0x78, 0x00, 0x10, 0x67}, PayloadInfo{}, false, ErrBadAggregate},
		{"STAP-A zero length", []byte{0x78, 0x00, 0x00}, PayloadInfo{}, false, ErrBadAggregate},
		{"STAP-A cut size", append(stapA(testPPS), 0x00), PayloadInfo{}, false, ErrBadAggregate},
		{"STAP-A forbidden inner", stapA([]byte{0xe7, 0x42}), PayloadInfo{}, false, ErrForbiddenBit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InspectPayload(tc.p)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			} else if got != tc.want {
				t.Errorf("info = %+v\nwant   %+v", got, tc.want)
			}
			if k := IsKeyframeStart(tc.p); k != tc.keyframe {
				t.Errorf("IsKeyframeStart = %v, want %v", k, tc.keyframe)
			}
		})
	}
}

func TestSTAPAIterator(t *testing.T) {
	nals := [][]byte{testSPS, testPPS, idrNAL(40, true)}
	it := NewSTAPAIterator(stapA(nals...))
	var got [][]byte
	for nal, ok := it.Next(); ok; nal, ok = it.Next() {
		got = append(got, nal)
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	if len(got) != len(nals) {
		t.Fatalf("got %d units, want %d", len(got), len(nals))
	}
	for i := range nals {
		if !bytes.Equal(got[i], nals[i]) {
			t.Errorf("unit %d differs", i)
		}
	}
}

func TestParseRTPHeader(t *testing.T) {
	base := rtpPacket(0x1234, 0xdeadbeef, 0xcafebabe, true, []byte{0x65, 0x88, 1, 2})
	withCSRC := append([]byte{0x82, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1, 0, 0, 0, 2}, 0x65, 0x88)
	withExt := append([]byte{0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0}, 0x41, 0x9a)
	padded := append(append([]byte{}, base...), 0, 0, 3)
	padded[0] |= 0x20
	tests := []struct {
		name    string
		pkt     []byte
		off     int
		end     int
		marker  bool
		seq     uint16
		wantErr error
	}{
		{"plain", base, 12, 16, true, 0x1234, nil},
		{"csrc", withCSRC, 20, 22, true, 0x1234, nil},
		{"extension", withExt, 20, 22, false, 1, nil},
		{"padding", padded, 12, 16, true, 0x1234, nil},
		{"short", base[:11], 0, 0, false, 0, ErrShortPacket},
		{"version 1", append([]byte{0x40}, base[1:]...), 0, 0, false, 0, ErrBadRTPVersion},
		{"csrc past end", withCSRC[:16], 0, 0, false, 0, ErrShortPacket},
		{"extension header past end", withExt[:14], 0, 0, false, 0, ErrShortPacket},
		{"extension past end", withExt[:17], 0, 0, false, 0, ErrShortPacket},
		{"zero padding", append(append([]byte{0xa0}, base[1:]...), 0), 0, 0, false, 0, ErrBadPadding},
		{"padding past payload", append(append([]byte{0xa0}, base[1:]...), 40), 0, 0, false, 0, ErrBadPadding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseRTPHeader(tc.pkt)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.PayloadOffset != tc.off || h.PayloadEnd != tc.end || h.Marker != tc.marker || h.SequenceNumber != tc.seq {
				t.Errorf("header = %+v", h)
			}
		})
	}
}

func TestParamSets(t *testing.T) {
	var c ParamSets
	if c.Complete() || c.STAPASize() != 0 || len(c.AppendSTAPA(nil)) != 0 {
		t.Fatal("empty cache claims content")
	}
	if err := c.Update(testSPS); err != nil {
		t.Fatal(err)
	}
	if c.Complete() {
		t.Fatal("complete with SPS only")
	}
	if err := c.Update(stapA(testPPS, idrNAL(30, true))); err != nil {
		t.Fatal(err)
	}
	if !c.Complete() || !bytes.Equal(c.SPS(), testSPS) || !bytes.Equal(c.PPS(), testPPS) {
		t.Fatal("cache does not hold the SPS and PPS")
	}
	p := c.AppendSTAPA(nil)
	if len(p) != c.STAPASize() || !bytes.Equal(p, stapA(testSPS, testPPS)) {
		t.Fatalf("STAP-A = %x", p)
	}
	info, err := InspectPayload(p)
	if err != nil || !info.HasSPS || !info.HasPPS {
		t.Fatalf("built STAP-A does not inspect: %+v %v", info, err)
	}

	big := make([]byte, MaxSPSSize+1)
	big[0] = 0x67
	if err := c.Update(big); !errors.Is(err, ErrParamSetTooLarge) {
		t.Fatalf("oversized SPS: %v", err)
	}
	if !bytes.Equal(c.SPS(), testSPS) {
		t.Fatal("oversized SPS replaced the cached one")
	}
	bigPPS := make([]byte, MaxPPSSize+1)
	bigPPS[0] = 0x68
	if err := c.Update(stapA(bigPPS)); !errors.Is(err, ErrParamSetTooLarge) {
		t.Fatalf("oversized PPS: %v", err)
	}
	if err := c.Update([]byte{0x78, 0, 9}); !errors.Is(err, ErrBadAggregate) {
		t.Fatalf("bad STAP-A: %v", err)
	}
	if err := c.SetSPS([]byte{0x67}); !errors.Is(err, ErrShortPacket) {
		t.Fatalf("short SPS: %v", err)
	}
	newSPS := append([]byte(nil), testSPS...)
	newSPS[3] = 0x1f
	if err := c.Update(newSPS); err != nil || !bytes.Equal(c.SPS(), newSPS) {
		t.Fatalf("newer SPS not kept: %v", err)
	}
	// The cache holds copies, not references.
	newSPS[3] = 0
	if c.SPS()[3] != 0x1f {
		t.Fatal("cache aliases the packet")
	}
	c.Reset()
	if c.Complete() {
		t.Fatal("Reset kept parameter sets")
	}
}
