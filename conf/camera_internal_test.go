package conf

import "testing"

func TestCameraAudioMutedOnJoin(t *testing.T) {
	for _, tc := range []struct {
		mute     bool
		protocol string
		want     bool
	}{
		{true, ProtocolRTSP, true},
		{false, ProtocolRTSP, false},
		{true, ProtocolSIP, false},
		{true, "", false},
	} {
		got := cameraAudioMutedOnJoin(Conference{MuteCameraAudio: tc.mute}, &Participant{protocol: tc.protocol})
		if got != tc.want {
			t.Errorf("MuteCameraAudio %v, protocol %q: muted %v, want %v", tc.mute, tc.protocol, got, tc.want)
		}
	}
}
