package bridge

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/video"
)

// Moving a video leg between rooms, and feeding it packets without a socket.

// enter joins room name's video router with the leg's stream p: as a
// source and a receiver, pinned when the room waits for it. l.moveMu must be
// held.
func (l *VideoLeg) enter(name string, p VideoParams) error {
	vr, err := l.b.videoRooms().join(l.b, l, name)
	if err != nil {
		return err
	}
	if err := vr.addLeg(l, p); err != nil {
		vr.leave(l)
		return err
	}
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		vr.removeLeg(l)
		vr.leave(l)
		return ErrClosed
	}
	l.room = vr
	l.mu.Unlock()
	vr.applyPin(l)
	return nil
}

// SetRoom moves the leg into another room's video, as Leg.SetRoom moves the
// audio (a caller leaving the IVR lobby for his conference). A started leg
// leaves its old router (whose receivers switch away from it) and joins the
// new one at once, keeping its sockets, latch and SSRC; a leg not started
// yet will start in name. Moving to the room it is in does nothing.
func (l *VideoLeg) SetRoom(name string) error {
	if name == "" {
		return fmt.Errorf("moving video leg %q: %w: empty room name", l.id, ErrBadParams)
	}
	l.moveMu.Lock()
	defer l.moveMu.Unlock()
	l.mu.Lock()
	if l.closing || l.ctx.Err() != nil {
		l.mu.Unlock()
		return fmt.Errorf("moving video leg %q: %w", l.id, ErrClosed)
	}
	from := l.roomName
	if from == name {
		l.mu.Unlock()
		return nil
	}
	l.roomName = name
	old, started, p := l.room, l.started, l.params
	l.room = nil
	l.mu.Unlock()
	if old != nil {
		old.removeLeg(l)
		old.leave(l)
	}
	l.b.videoRooms().dropPin(from, l.id)
	if !started {
		return nil
	}
	if err := l.enter(name, p); err != nil {
		return fmt.Errorf("moving video leg %q to room %q: %w", l.id, name, err)
	}
	l.log.Info("video leg moved", "from", from, "to", name)
	return nil
}

// InjectRTP hands the leg one RTP packet of its source as if it had come
// from the peer, for legs whose video does not arrive on the leg's socket
// (an RTSP camera read by its own client). Such a leg is started RecvOnly
// with no Remote: it is a source only. The packet is checked like one from
// the socket (payload type, direction) and forwarded to the room's
// receivers; it is not retained, so the caller may reuse pkt. Nothing is
// allocated per packet.
func (l *VideoLeg) InjectRTP(pkt []byte) {
	if len(pkt) > maxDatagram {
		l.dropMalformed.Add(1)
		return
	}
	h, err := video.ParseRTPHeader(pkt)
	if err != nil {
		l.dropMalformed.Add(1)
		return
	}
	l.mu.Lock()
	vr := l.room
	switch {
	case vr == nil, h.PayloadType != l.params.PayloadType:
		l.mu.Unlock()
		l.dropPT.Add(1)
		return
	case !receives(l.params.Direction):
		l.mu.Unlock()
		l.dropNotRcv.Add(1)
		return
	}
	if h.SSRC != l.latchSrc {
		l.latchSrc = h.SSRC
		l.rx = rxStats{}
	}
	l.rx.update(h.SequenceNumber, h.Timestamp, uint32(l.b.clk.Now().Sub(l.epoch).Microseconds()*9/100))
	l.mu.Unlock()
	l.forward(vr, pkt, &h)
}

// SetCameraMuted keeps the peer's video off every screen (muted) or lets it
// be shown again, whatever direction the signalling negotiated: a camera
// muted by the conference (mute cameras on join, a guest without the video
// right) is skipped by the switching like a camera that is off. The leg
// still receives the room's picture.
func (l *VideoLeg) SetCameraMuted(muted bool) {
	l.mu.Lock()
	l.camMuted = muted
	vr, dir := l.room, l.params.Direction
	l.mu.Unlock()
	if vr != nil {
		if err := vr.rt.SetSourceEnabled(l.id, receives(dir) && !muted); err != nil {
			l.log.Debug("muting the camera", "err", err)
		}
	}
	l.log.Info("camera muted", "muted", muted)
}
