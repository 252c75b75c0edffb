package call

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/roomgate/roomgate/h323/h245"
)

// msdState is the master/slave determination signalling entity state (H.245 clause 8.3).
type msdState uint8

const (
	msdIdle msdState = iota
	msdOutgoing
	msdIncoming
	msdDone
)

// maxMSDRetries is N100: how often we retry determination on identical numbers.
const maxMSDRetries = 3

// ourChannel is the logical channel number of our audio transmit channel.
const ourChannel = 1

// h245State is the H.245 session of one call.
type h245State struct {
	sdnRand    func() int
	sdn        int
	msd        msdState
	msdRetries int
	master     bool

	tcsSeq   int
	tcsAcked bool
	peerTCS  bool
	peerCaps []string

	ourOLC      int // channel number of our open(ing) transmit channel, 0 when none
	lastOLC     int // the last channel number we used; a reopened channel gets a new one
	ourOLCAcked bool
	peerOLC     int
	tried       map[string]bool
}

// newSDN returns a random statusDeterminationNumber (0..2^24-1).
func newSDN() int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int(binary.BigEndian.Uint32(b[:]) & 0xFFFFFF)
}

// startH245 opens the H.245 session: our TerminalCapabilitySet and
// masterSlaveDetermination. It runs once per call.
func (c *call) startH245() {
	if c.h245Started {
		return
	}
	c.h245Started = true
	c.h245.tcsSeq = 1
	if tcs, err := h245.TCS(c.h245.tcsSeq, capabilities(c.env.prefs, c.videoCapability())); err == nil {
		c.sendH245(tcs)
	} else {
		c.log.Error("building TerminalCapabilitySet", "err", err)
	}
	if c.h245.msd == msdIdle {
		// Unless the peer's determination (say, in its Setup) already runs.
		c.sendMSD()
	}
}

func (c *call) sendMSD() {
	c.h245.sdn = c.h245.sdnRand()
	if msd, err := h245.MSD(h245.TerminalTypeMCU, c.h245.sdn); err == nil {
		c.sendH245(msd)
		c.h245.msd = msdOutgoing
	}
}

// sendH245 sends one PDU on the separate channel, or tunnelled in its own
// Facility (Cisco IOS cannot take several per message), or queues it until a
// transport is ready.
func (c *call) sendH245(pdu []byte) {
	if !c.h245Ready {
		c.h245Queue = append(c.h245Queue, pdu)
		return
	}
	if c.h245Conn != nil {
		if err := writeTPKT(c.h245Conn, pdu); err != nil {
			// Like a closed H.245 channel: call signalling (and the handshake timer) decides.
			c.log.Warn("separate H.245 channel failed", "err", err)
			c.h245Conn.Close()
			c.h245Conn, c.h245Ready = nil, false
		}
		return
	}
	u := c.uu()
	u.H245 = [][]byte{pdu}
	b, err := u.Empty()
	if err == nil {
		err = c.sendSignal("empty", b, "", 0)
	}
	if err != nil {
		c.writeFailed(fmt.Errorf("tunnelling H.245: %w", err))
	}
}

// h245Up marks the H.245 transport usable, flushes the queue and starts the session.
func (c *call) h245Up() {
	if c.h245Ready || c.released {
		return
	}
	c.h245Ready = true
	q := c.h245Queue
	c.h245Queue = nil
	for _, pdu := range q {
		c.sendH245(pdu)
	}
	c.startH245()
}

// listenH245 opens our separate H.245 listener (for Connect's h245Address).
func (c *call) listenH245() (netip.AddrPort, error) {
	ln, err := c.env.listen(context.Background(), "tcp", netip.AddrPortFrom(c.localIP, 0).String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("opening H.245 listener: %w", err)
	}
	c.h245Ln = ln
	c.readers.Add(1)
	go c.acceptH245(ln)
	a, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("opening H.245 listener: %w", err)
	}
	return netip.AddrPortFrom(c.localIP, a.Port()), nil
}

// dialH245 connects to the peer's H.245 address in the background.
func (c *call) dialH245(ctx context.Context, to netip.AddrPort) {
	if c.h245Conn != nil || c.h245Dialing || c.tunnelling {
		return
	}
	c.h245Dialing = true
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		conn, err := c.env.dial(ctx, "tcp", to.String())
		if err != nil {
			c.log.Warn("connecting to the peer's H.245 address", "addr", to.String(), "err", err)
			return
		}
		if !c.post(event{kind: evH245Conn, conn: conn}) {
			conn.Close()
		}
	}()
}

// onH245Conn adopts a separate H.245 connection.
func (c *call) onH245Conn(conn net.Conn) {
	if c.h245Conn != nil || c.released {
		conn.Close()
		return
	}
	c.h245Conn = conn
	if c.h245Ln != nil {
		c.h245Ln.Close()
		c.h245Ln = nil
	}
	c.readers.Add(1)
	go c.readH245(conn)
	c.h245Up()
}

// onH245 handles one H.245 PDU from either transport.
func (c *call) onH245(pdu []byte) {
	if c.released {
		return
	}
	m, err := h245.Parse(pdu)
	if err != nil {
		c.env.m.malformed.Inc()
		c.log.Warn("undecodable H.245 message ignored", "err", err)
		return
	}
	c.log.Debug("h245 received", "class", m.Class, "kind", m.Kind)
	switch m.Kind {
	case "terminalCapabilitySet":
		c.onTCS(m)
	case "terminalCapabilitySetAck":
		if m.Sequence == c.h245.tcsSeq {
			c.h245.tcsAcked = true
			c.maybeOpen()
		}
	case "terminalCapabilitySetReject":
		c.release(&CauseError{Cause: CauseIncompatible, Err: fmt.Errorf("%w: peer rejected our capabilities (%s)", ErrProtocol, m.Cause)})
	case "masterSlaveDetermination":
		c.onMSD(m)
	case "masterSlaveDeterminationAck":
		c.onMSDAck(m)
	case "masterSlaveDeterminationReject":
		if c.h245.msd == msdOutgoing && c.h245.msdRetries < maxMSDRetries {
			c.h245.msdRetries++
			c.sendMSD()
			return
		}
		c.release(fmt.Errorf("%w: master/slave determination failed", ErrProtocol))
	case "masterSlaveDeterminationRelease":
		c.log.Warn("peer abandoned master/slave determination")
	case "openLogicalChannel":
		c.onOLC(m)
	case "openLogicalChannelAck":
		if m.Channel != 0 && m.Channel == c.video.ourOLC {
			c.onVideoOLCAck(m)
			return
		}
		c.onOLCAck(m)
	case "openLogicalChannelReject":
		if m.Channel != 0 && m.Channel == c.video.ourOLC {
			c.log.Info("peer refused our video channel", "cause", m.Cause)
			c.video.ourOLC, c.video.ourRejected = 0, true
			c.applyVideo()
			return
		}
		c.onOLCReject(m)
	case "closeLogicalChannel":
		c.reply(h245.CLCAck(m.Channel))
		if c.onVideoClose(m.Channel) {
			return
		}
		if m.Channel == c.h245.peerOLC {
			c.h245.peerOLC = 0
		}
	case "requestChannelClose":
		if c.onVideoCloseRequest(m.Channel) {
			return
		}
		c.log.Info("peer asked to close our channel; keeping audio", "channel", m.Channel)
	case "miscellaneousCommand":
		c.onFastUpdateCommand(m)
	case "flowControlCommand":
		c.onFlowControl(m)
	case "roundTripDelayRequest":
		c.reply(h245.RoundTripDelayResponse(m.Sequence))
	case "endSessionCommand":
		c.release(&CauseError{Cause: 16, Err: ErrEndSession})
	case "userInput":
		c.onDigits(m.UserInput, "uii", time.Time{})
	case "closeLogicalChannelAck", "roundTripDelayResponse", "miscellaneousIndication", "functionNotUnderstood", "functionNotSupported", "vendorIdentification",
		"jitterIndication", "genericIndication", "genericCommand":
		// Nothing to do for an audio-only leg.
	default:
		if m.Class == "request" || m.Class == "command" {
			c.reply(h245.FunctionNotUnderstood(pdu))
		}
	}
}

// reply sends a built PDU, logging builder failures.
func (c *call) reply(pdu []byte, err error) {
	if err != nil {
		c.log.Error("building H.245 answer", "err", err)
		return
	}
	c.sendH245(pdu)
}

func (c *call) onTCS(m *h245.Message) {
	names, events, empty := tcsAudio(m)
	c.reply(h245.TCSAck(m.Sequence))
	c.onPeerVideoCaps(m, empty)
	if empty {
		// An empty TCS pauses the session (third-party re-routing); keep the audio.
		c.log.Info("peer paused with an empty capability set")
		return
	}
	c.h245.peerTCS, c.h245.peerCaps = true, names
	if events > 0 && c.eventPT < 0 {
		// The peer does RFC 2833, so it sends telephone events on the payload type
		// our TCS announced; the leg decodes them (and stops listening for tones).
		c.eventPT = eventPayloadType
		if events != eventPayloadType {
			c.log.Debug("peer receives telephone events on another payload type", "peer_pt", events, "our_pt", eventPayloadType)
		}
		if c.mediaStarted {
			c.startMedia()
		}
	}
	c.maybeOpen()
}

// determine decides master/slave from the peer's terminal type and number
// (H.245 clause C.2): ok false means identical numbers.
func (c *call) determine(terminalType, sdn int) (master, ok bool) {
	switch {
	case h245.TerminalTypeMCU > terminalType:
		return true, true
	case h245.TerminalTypeMCU < terminalType:
		return false, true
	}
	diff := (sdn - c.h245.sdn) & 0xFFFFFF
	if diff == 0 || diff == 0x800000 {
		return false, false
	}
	return diff < 0x800000, true
}

func (c *call) onMSD(m *h245.Message) {
	master, ok := c.determine(m.TerminalType, m.SDN)
	if !ok {
		c.reply(h245.MSDReject())
		if c.h245.msdRetries < maxMSDRetries {
			c.h245.msdRetries++
			c.sendMSD()
		}
		return
	}
	c.h245.master = master
	c.h245.msd = msdIncoming
	c.reply(h245.MSDAck(!master))
}

func (c *call) onMSDAck(m *h245.Message) {
	switch c.h245.msd {
	case msdOutgoing:
		c.h245.master = m.Decision == "master"
		c.reply(h245.MSDAck(c.h245.master))
	case msdIncoming:
		if (m.Decision == "master") != c.h245.master {
			c.log.Warn("master/slave decisions disagree", "ours_master", c.h245.master, "peer_says", m.Decision)
		}
	default:
		return
	}
	c.h245.msd = msdDone
	c.maybeOpen()
}

// maybeOpen opens our transmit channels once capabilities are exchanged and
// master/slave is determined: audio first, then video.
func (c *call) maybeOpen() {
	c.maybeOpenAudio()
	c.maybeOpenVideo()
}

// maybeOpenAudio opens our audio transmit channel, unless Fast Connect
// already opened it.
func (c *call) maybeOpenAudio() {
	if c.fastStart || c.h245.ourOLC != 0 || !c.h245.peerTCS || c.h245.msd != msdDone || c.released {
		return
	}
	if !c.hasCodec {
		a, ok := c.pickCodec()
		if !ok {
			c.release(&CauseError{Cause: CauseIncompatible, Err: fmt.Errorf("%w: peer offers %v", ErrNoCommonCodec, c.h245.peerCaps)})
			return
		}
		c.codec, c.hasCodec = a, true
	}
	c.openOurs()
}

// pickCodec returns our most preferred codec the peer can receive and we have not had refused.
func (c *call) pickCodec() (audio, bool) {
	for _, a := range c.env.prefs {
		if c.h245.tried[a.h245Name] {
			continue
		}
		for _, n := range c.h245.peerCaps {
			if n == a.h245Name {
				return a, true
			}
		}
	}
	return audio{}, false
}

func (c *call) openOurs() {
	if c.h245.lastOLC < ourChannel {
		c.h245.lastOLC = ourChannel // the first audio channel is 1, as in Fast Connect
	} else {
		c.h245.lastOLC++
	}
	c.h245.ourOLC = c.h245.lastOLC
	c.h245.ourOLCAcked = false
	a := h245.AudioCap{Codec: c.codec.cap, Frames: 20}
	c.reply(h245.OLC(h245.Channel{Number: c.h245.ourOLC, SessionID: 1, Audio: &a, MediaControl: c.rtcpAddr()}))
}

func (c *call) onOLC(m *h245.Message) {
	o := m.OLC
	if o != nil && o.DataType == "videoData" {
		c.onVideoOLC(m)
		return
	}
	if o == nil || o.Reverse || o.DataType != "audioData" {
		// Data and bidirectional channels: refused.
		c.reply(h245.OLCReject(m.Channel, "dataTypeNotSupported"))
		return
	}
	a, ok := findAudio(c.env.prefs, o.Codec)
	if !ok {
		c.reply(h245.OLCReject(m.Channel, "dataTypeNotSupported"))
		return
	}
	if c.hasCodec && a.info.Name != c.codec.info.Name {
		if c.h245.master {
			// The master's choice stands; the slave reopens with our codec (H.245 clause 8.4).
			c.reply(h245.OLCReject(m.Channel, "masterSlaveConflict"))
			return
		}
		// As slave we follow the master: reopen our channel with its codec.
		if c.h245.ourOLC != 0 {
			c.reply(h245.CLC(c.h245.ourOLC))
			c.h245.ourOLC = 0
		}
		c.hasCodec = false
	}
	if !c.hasCodec {
		c.codec, c.hasCodec = a, true
	}
	c.h245.peerOLC = m.Channel
	c.reply(h245.OLCAck(m.Channel, o.SessionID, c.rtpAddr(), c.rtcpAddr()))
	if c.h245.ourOLC == 0 {
		c.maybeOpen()
	}
	c.startMedia()
}

func (c *call) onOLCAck(m *h245.Message) {
	if m.Channel != c.h245.ourOLC || c.h245.ourOLC == 0 {
		return
	}
	// The sessionID may differ from ours (Tandberg acks with 32+); only the address matters.
	if !m.Media.IsValid() {
		c.release(fmt.Errorf("%w: OpenLogicalChannelAck without a media address", ErrProtocol))
		return
	}
	c.h245.ourOLCAcked = true
	c.remote, c.remoteRTCP = m.Media, m.MediaControl
	c.startMedia()
}

func (c *call) onOLCReject(m *h245.Message) {
	if m.Channel != c.h245.ourOLC || c.h245.ourOLC == 0 {
		return
	}
	c.h245.ourOLC = 0
	if m.Cause == "masterSlaveConflict" {
		if c.h245.peerOLC != 0 {
			// We already follow the master's channel: reopen ours with its codec.
			c.maybeOpen()
			return
		}
		// We follow the master's codec when its OLC arrives.
		c.hasCodec = false
		return
	}
	if c.h245.tried == nil {
		c.h245.tried = map[string]bool{}
	}
	c.h245.tried[c.codec.h245Name] = true
	if c.mediaStarted {
		c.release(&CauseError{Cause: CauseIncompatible, Err: fmt.Errorf("%w: peer refused %s (%s)", ErrNoCommonCodec, c.codec.info.Name, m.Cause)})
		return
	}
	c.hasCodec = false
	c.maybeOpen()
}

// sendDigits sends DTMF as UserInputIndication, or as Q.931 Keypad in
// Information when no H.245 session exists.
func (c *call) sendDigits(s string) error {
	if c.h245Ready && !c.released {
		pdu, err := h245.UserInputString(s)
		if err != nil {
			return err
		}
		c.sendH245(pdu)
		return nil
	}
	b, err := c.uu().Information()
	if err != nil {
		return err
	}
	return c.sendSignal("information", b, "", 0, keypadIE(s))
}
