package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/internal/callleg"
)

// Video of a call. A call that offers (or accepts) an H.264 video m-line
// gets a video leg in the bridge beside its audio leg: the same ID and room,
// its own ports. The rules:
//
//   - The offer's first main video line (FindVideoLine) is answered with the
//     conference format (AnswerVideo); a line we cannot take is answered
//     with port 0 and the reason logged, and the call goes on with audio.
//   - A renegotiation updates the leg (hold, resume, new address). An offer
//     that drops video, or answers it with port 0, makes the leg inactive
//     rather than closing it, so that the switched stream keeps its SSRC
//     and numbering if video comes back.
//   - Late offers, offerless re-INVITEs and dial-outs offer VideoOfferLine
//     and read the answer with ParseVideoAnswer.
//   - The video leg moves with the audio out of the lobby (Enter) and is
//     closed with the call, on every path (terminate).
//   - Keyframes: the peer's INFO picture_fast_update (RFC 5168) goes to
//     the source it sees; when the room needs a keyframe from a peer that
//     negotiated neither PLI nor FIR, the peer gets such an INFO.

// videoFactory returns the server's video leg factory, or nil when video is
// off or the media cannot do it.
func (s *Server) videoFactory() callleg.VideoFactory {
	if !s.cfg.VideoEnabled {
		return nil
	}
	vf, _ := s.media.(callleg.VideoFactory)
	return vf
}

// ensureVideoLeg returns the call's video leg, creating it in the room the
// call's media is in.
func (c *call) ensureVideoLeg() (callleg.VideoLeg, error) {
	vf := c.s.videoFactory()
	if vf == nil {
		return nil, fmt.Errorf("creating video leg: %w", ErrNotSupported)
	}
	c.mu.Lock()
	v, room := c.video, c.mediaRoom
	c.mu.Unlock()
	if v != nil {
		return v, nil
	}
	v, err := vf.NewVideoLeg(bridge.VideoLegOptions{ID: c.legID, Room: room,
		Logger: c.s.log.With("call_id", c.callID), OnKeyframeRequest: c.onKeyframeRequest})
	if err != nil {
		return nil, fmt.Errorf("creating video leg: %w", err)
	}
	c.mu.Lock()
	if c.state == stateTerminated {
		c.mu.Unlock()
		v.Close(context.Cause(c.ctx))
		return nil, fmt.Errorf("creating video leg: %w", ErrClosed)
	}
	c.video = v
	moved, camMuted := c.mediaRoom, c.cameraMuted
	c.mu.Unlock()
	if camMuted {
		v.SetCameraMuted(true) // muted by conf before the video existed
	}
	if moved != room {
		// Entered the conference while the leg was being made.
		if err := v.SetRoom(moved); err != nil {
			c.log.Warn("moving video leg", "err", err)
		}
	}
	return v, nil
}

// dropVideo closes a video leg that never started (its line was rejected).
func (c *call) dropVideo(v callleg.VideoLeg, cause error) {
	c.mu.Lock()
	if c.video == v && !c.videoStarted {
		c.video = nil
	} else {
		v = nil
	}
	c.mu.Unlock()
	if v != nil {
		v.Close(cause)
	}
}

// idleVideo makes a started video leg inactive (video dropped or rejected
// in a renegotiation).
func (c *call) idleVideo() {
	c.mu.Lock()
	v, started, p := c.video, c.videoStarted, c.videoParams
	c.mu.Unlock()
	if v == nil || !started || p.Direction == bridge.Inactive {
		return
	}
	p.Direction = bridge.Inactive
	if err := v.Update(p); err != nil {
		c.log.Warn("making video inactive", "err", err)
		return
	}
	c.mu.Lock()
	c.videoParams = p
	c.mu.Unlock()
}

// applyVideo starts or updates the video leg with p.
func (c *call) applyVideo(v callleg.VideoLeg, p bridge.VideoParams) error {
	c.mu.Lock()
	started := c.videoStarted
	c.mu.Unlock()
	var err error
	if started {
		err = v.Update(p)
	} else {
		err = v.Start(p)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.videoParams, c.videoStarted = p, true
	c.mu.Unlock()
	c.log.Info("video negotiated", "pt", p.PayloadType, "profile_level_id", p.Fmtp.ProfileLevelID.String(),
		"packetization_mode", p.Fmtp.PacketizationMode, "remote", p.Remote.String(),
		"direction", bridgeDirectionName(p.Direction), "rtcp_fb_pli", p.Feedback.PLI, "rtcp_fb_fir", p.Feedback.FIR)
	return nil
}

// answerVideo answers the video of an offer whose audio was negotiated into
// lines (one per offered m-line) and returns the lines with the video line
// answered. It never fails the call: video that cannot be had is logged
// and left rejected.
func (c *call) answerVideo(offer []byte, lines []MediaLine) []MediaLine {
	sd, err := ParseSDP(offer)
	if err != nil {
		return lines // negotiate read it already; cannot happen
	}
	idx := FindVideoLine(sd)
	if idx < 0 || idx >= len(lines) {
		c.idleVideo()
		return lines
	}
	md := sd.MediaDescriptions[idx]
	if c.s.videoFactory() == nil {
		c.log.Info("video offered but not enabled; answering audio only")
		return lines
	}
	v, err := c.ensureVideoLeg()
	if err != nil {
		c.log.Warn("video offered but no video leg; answering audio only", "err", err)
		return lines
	}
	ans, err := AnswerVideo(sd, md, c.s.cfg.Video, v.LocalPort())
	if err != nil {
		c.log.Warn("answering video", "err", err)
		c.dropVideo(v, err)
		c.idleVideo()
		return lines
	}
	if !ans.Accepted {
		c.log.Info("video rejected; the call goes on with audio", "reason", ans.Reason)
		c.dropVideo(v, errors.New("video rejected: "+ans.Reason))
		c.idleVideo()
		return lines
	}
	if err := c.applyVideo(v, ans.Params); err != nil {
		c.log.Warn("starting video; the call goes on with audio", "err", err)
		c.dropVideo(v, err)
		return lines
	}
	out := slices.Clone(lines)
	out[idx] = ans.Line
	return out
}

// videoOffer returns the video m-line of an offer of ours (late offer,
// offerless re-INVITE, dial-out); ok is false when the call gets no video.
func (c *call) videoOffer() (MediaLine, bool) {
	if c.s.videoFactory() == nil {
		return MediaLine{}, false
	}
	v, err := c.ensureVideoLeg()
	if err != nil {
		c.log.Warn("no video leg for our offer", "err", err)
		return MediaLine{}, false
	}
	dir := dirSendRecv
	c.mu.Lock()
	if c.videoStarted {
		dir = bridgeDirectionName(c.videoParams.Direction)
	}
	c.mu.Unlock()
	l, _, err := VideoOfferLine(c.s.cfg.Video, v.LocalPort(), dir)
	if err != nil {
		c.log.Warn("building video offer", "err", err)
		return MediaLine{}, false
	}
	return l, true
}

// applyVideoAnswer reads the video of the peer's answer to an offer of
// ours that carried video.
func (c *call) applyVideoAnswer(answer []byte) {
	c.mu.Lock()
	v := c.video
	c.mu.Unlock()
	if v == nil {
		return
	}
	sd, err := ParseSDP(answer)
	if err != nil {
		return
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "video" {
			md = m
			break
		}
	}
	reason := "no video line in the answer"
	if md != nil {
		p, ok, why, err := ParseVideoAnswer(sd, md, c.s.cfg.Video)
		switch {
		case err != nil:
			reason = err.Error()
		case !ok:
			reason = why
		default:
			if err := c.applyVideo(v, p); err != nil {
				reason = err.Error()
				break
			}
			return
		}
	}
	c.log.Info("no video with the peer; the call goes on with audio", "reason", reason)
	c.dropVideo(v, errors.New("video not accepted: "+reason))
	c.idleVideo()
}

// moveVideo moves the call's video leg with its audio (lobby -> conference).
func (c *call) moveVideo(room string) {
	c.mu.Lock()
	c.mediaRoom = room
	v := c.video
	c.mu.Unlock()
	if v == nil {
		return
	}
	if err := v.SetRoom(room); err != nil {
		c.log.Warn("moving video into the conference", "err", err)
	}
}

// onKeyframeRequest runs when the room needs a keyframe from the peer. A
// peer that took an RTCP PLI or FIR needs nothing more; one that negotiated
// neither is asked by INFO picture_fast_update (RFC 5168), when its Allow
// header has INFO. It runs on the video leg's delivery goroutine, one call
// at a time, and ends with the call.
func (c *call) onKeyframeRequest(rtcpSent bool) {
	if rtcpSent || c.ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	ok := c.state == stateConfirmed && c.dtmf.peerAllowsInfo
	c.mu.Unlock()
	if !ok {
		return
	}
	req := c.newRequest(sipmsg.INFO)
	req.AppendHeader(sipmsg.NewHeader("Content-Type", ContentTypeMediaControl))
	req.SetBody([]byte(fastUpdateBody))
	ctx, cancel := context.WithTimeout(c.ctx, ackWait)
	defer cancel()
	res, err := c.do(ctx, req)
	switch {
	case err != nil:
		c.log.Debug("picture_fast_update INFO got no answer", "err", err)
	case !res.IsSuccess():
		c.log.Debug("picture_fast_update INFO refused", "status", res.StatusCode)
	default:
		c.s.m.fastUpdates.WithLabelValues("sent").Inc()
	}
}

// handleMediaControl answers an INFO with an RFC 5168 body: a
// picture_fast_update goes to the source the peer sees. A body we cannot
// read is answered 400; a call without video answers 200 all the same
// (the request is harmless, and some endpoints send it unprompted).
func (c *call) handleMediaControl(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	mc, err := ParseMediaControl(req.Body())
	if err != nil {
		c.log.Debug("malformed media_control INFO", "err", err)
		c.s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
		return
	}
	if len(mc.Errors) > 0 {
		c.log.Info("peer reports a media control error", "errors", mc.Errors)
	}
	if mc.FastUpdate {
		c.mu.Lock()
		v, started := c.video, c.videoStarted
		c.mu.Unlock()
		if v != nil && started {
			v.HandleFastUpdate()
		}
		c.s.m.fastUpdates.WithLabelValues("received").Inc()
	}
	c.s.respond(tx, req, 200, "OK", nil)
}

// SetCameraMuted keeps the caller's video off screen or lets it back (the
// conference mutes cameras on join, or a guest lacks the video right); it
// makes a call a conf.CameraMutableLeg. A mute that comes before the video
// leg exists is applied when it does.
func (c *call) SetCameraMuted(muted bool) {
	c.mu.Lock()
	c.cameraMuted = muted
	v := c.video
	c.mu.Unlock()
	if v != nil {
		v.SetCameraMuted(muted)
	}
}

// MediaID is the ID of the call's legs in the bridge (audio and video), by
// which the bridge names the speaker and conf pins a picture.
func (c *call) MediaID() string { return c.legID }

// VideoStats returns the call's video state; ok is false when the call has
// no video.
func (c *call) VideoStats() (bridge.VideoLegStats, bool) {
	c.mu.Lock()
	v, started := c.video, c.videoStarted
	c.mu.Unlock()
	if v == nil || !started {
		return bridge.VideoLegStats{}, false
	}
	return v.Stats(), true
}

// PinVideo pins the picture of room to the bridge leg mediaID, and
// UnpinVideo returns it to voice switching: conf reaches the room's video
// router through any live leg of the conference that has one.
func (c *call) PinVideo(room, mediaID string) error {
	r, ok := c.s.media.(videoRouter)
	if !ok || c.s.videoFactory() == nil {
		return fmt.Errorf("pinning video in %s: %w", room, ErrNotSupported)
	}
	return r.PinVideo(room, mediaID)
}

// UnpinVideo returns room's picture to the speaker.
func (c *call) UnpinVideo(room string) {
	if r, ok := c.s.media.(videoRouter); ok {
		r.UnpinVideo(room)
	}
}

// VideoPin returns the leg room's picture is pinned to, "" for none.
func (c *call) VideoPin(room string) string {
	if r, ok := c.s.media.(videoRouter); ok {
		return r.VideoPin(room)
	}
	return ""
}

// videoRouter is the room-level video control of the media (BridgeMedia).
type videoRouter interface {
	PinVideo(room, legID string) error
	UnpinVideo(room string)
	VideoPin(room string) string
}

// Compile-time checks: conf reaches a call's video through these.
var (
	_ conf.MediaIdentified  = (*call)(nil)
	_ conf.VideoStatsLeg    = (*call)(nil)
	_ conf.VideoRouterLeg   = (*call)(nil)
	_ conf.CameraMutableLeg = (*call)(nil)
)
