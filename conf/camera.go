package conf

// IP cameras (participants of protocol rtsp, dialled by package rtsp) are
// participants like any other for the rules of video: their leg names its
// media in the bridge (MediaIdentified), lists its picture (VideoStatsLeg)
// and reaches the room's video router (VideoRouterLeg), so a moderator pins
// a camera as he pins a phone. What differs is audio: a camera in a
// meeting room hears the room the phones in it already send, so a
// conference may close cameras' microphones as they join
// (Conference.MuteCameraAudio).

// cameraAudioMutedOnJoin reports whether p joins conference c with his
// microphone closed because he is a camera and c mutes camera audio. It
// holds whatever the camera's role: a camera is not a person whose rank
// spares him the courtesy of MuteMicrophonesOnJoin, and a moderator may
// still open it (SetMuted) like any muted-on-join microphone. The join path
// (prepareJoinLocked) ORs it into its mute decision.
func cameraAudioMutedOnJoin(c Conference, p *Participant) bool {
	return c.MuteCameraAudio && p.protocol == ProtocolRTSP
}
