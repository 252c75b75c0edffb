package bridge

import (
	"strings"
	"testing"

	"github.com/pion/rtcp"
)

// TestBuildReportParses checks our hand-marshalled reports against pion's
// parser, for sender and receiver reports and every CNAME padding case.
func TestBuildReportParses(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	l, err := b.NewLeg(LegOptions{ID: "r", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 8; n++ {
		b.cname = strings.Repeat("x", n)
		for _, sent := range []bool{false, true} {
			for _, rx := range []bool{false, true} {
				l.mu.Lock()
				l.rx = rxStats{}
				if rx {
					l.latchSrc = 0xabcd
					for s := range uint16(10) {
						if s != 4 {
							l.rx.update(100+s, uint32(s)*160, uint32(s)*160)
						}
					}
				}
				l.mx.sentSinceReport = sent
				l.mx.packets, l.mx.octets = 50, 8000
				raw := l.buildReport(clk.Now(), &l.mx)
				l.mu.Unlock()
				pkts, err := rtcp.Unmarshal(raw)
				if err != nil {
					t.Fatalf("cname %d sent %v rx %v: %v", n, sent, rx, err)
				}
				var reports []rtcp.ReceptionReport
				switch p := pkts[0].(type) {
				case *rtcp.SenderReport:
					if !sent || p.SSRC != l.ssrc || p.PacketCount != 50 || p.OctetCount != 8000 {
						t.Fatalf("unexpected SR %+v", p)
					}
					reports = p.Reports
				case *rtcp.ReceiverReport:
					if sent || p.SSRC != l.ssrc {
						t.Fatalf("unexpected RR %+v", p)
					}
					reports = p.Reports
				}
				if rx {
					if len(reports) != 1 || reports[0].SSRC != 0xabcd || reports[0].TotalLost != 1 || reports[0].LastSequenceNumber != 109 || reports[0].FractionLost != 25 {
						t.Fatalf("report blocks %+v", reports)
					}
				} else if len(reports) != 0 {
					t.Fatalf("report blocks without a stream: %+v", reports)
				}
				sd, ok := pkts[1].(*rtcp.SourceDescription)
				if !ok || string(sd.Chunks[0].Items[0].Text) != b.cname {
					t.Fatalf("SDES %v", pkts[1])
				}
			}
		}
	}
}
