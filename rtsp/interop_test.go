package rtsp

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLogger writes the package's logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// pull starts a puller of target with cfg into rec and closes it in cleanup.
func pull(t *testing.T, target string, cam *camera, cfg Config, rec Sink, ev *eventLog) (*Puller, Tracks, error) {
	t.Helper()
	opts := PullerOptions{Config: cfg, Logger: testLogger(t)}
	if ev != nil {
		opts.OnEvent = ev.add
	}
	userinfo, path, _ := strings.Cut(target, "|")
	p, err := NewPuller(cam.target(t, userinfo, path), rec, opts)
	if err != nil {
		t.Fatalf("NewPuller: %v", err)
	}
	t.Cleanup(func() { p.Close(nil) })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tr, err := p.Start(ctx)
	return p, tr, err
}

// TestPullDigestH264PCMU pulls the GStreamer camera with digest
// authentication over the automatic transport and checks tracks, counters,
// the parameter sets and the picture size, and that the H.264 received
// decodes with ffmpeg without errors.
func TestPullDigestH264PCMU(t *testing.T) {
	cam := startCamera(t, "--user", "admin", "--password", "s3cret", "--audio", "pcmu")
	rec := newRecorder(true)
	p, tr, err := pull(t, "admin:s3cret|/cam", cam, Config{}, rec, nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if tr.Video == nil || tr.Video.Codec != CodecH264 || tr.Video.ClockRate != 90000 || tr.Video.PayloadType != 96 {
		t.Fatalf("video track %+v, want H264/90000 pt 96", tr.Video)
	}
	if tr.Audio == nil || tr.Audio.Codec != CodecPCMU || tr.Audio.ClockRate != 8000 || tr.Audio.PayloadType != 0 {
		t.Fatalf("audio track %+v, want PCMU/8000 pt 0", tr.Audio)
	}
	if !strings.Contains(tr.Video.Fmtp, "packetization-mode=1") {
		t.Errorf("video fmtp %q lacks packetization-mode=1", tr.Video.Fmtp)
	}
	if tr.Transport != "UDP" {
		t.Errorf("transport %q, want UDP first", tr.Transport)
	}
	if tr.SessionTimeout <= 0 {
		t.Errorf("session timeout %v: the camera's Session header timeout was not read", tr.SessionTimeout)
	}
	rec.waitUntil(t, "two seconds of media", func(v, a int) bool { return v >= 300 && a >= 5 })

	vi := p.VideoInfo()
	if len(vi.SPS) == 0 || len(vi.PPS) == 0 {
		t.Fatalf("parameter sets not known: SPS %d bytes, PPS %d bytes", len(vi.SPS), len(vi.PPS))
	}
	if vi.Width != 640 || vi.Height != 360 {
		t.Fatalf("picture %dx%d from the SPS, want 640x360", vi.Width, vi.Height)
	}
	if vi.Keyframes == 0 {
		t.Errorf("no keyframe seen")
	}
	st := p.Stats()
	if st.State != StatePlaying || st.VideoPackets == 0 || st.AudioPackets == 0 || st.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	p.Close(nil)
	if st := p.State(); st != StateClosed {
		t.Fatalf("state after Close %v", st)
	}

	rec.mu.Lock()
	annexB, aus, decErrs := rec.annexB.Bytes(), rec.aus, rec.decErrs
	rec.mu.Unlock()
	if aus < 25 || decErrs != 0 {
		t.Fatalf("depacketized %d access units with %d errors", aus, decErrs)
	}
	file := filepath.Join(t.TempDir(), "camera.h264")
	if err := os.WriteFile(file, annexB, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "h264", "-i", file, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("ffmpeg decoding the pulled H.264 (install Debian package ffmpeg): %v\n%s", err, out)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-f", "h264", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	fields := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(fields) != 3 || fields[0] != "640" || fields[1] != "360" || fields[2] == "0" {
		t.Fatalf("ffprobe says %q, want 640,360,<frames>", out)
	}
	t.Logf("ffprobe: %s frames of 640x360 from %d access units", fields[2], aus)
}

// TestPullTransports pulls with TCP and UDP forced, and with the automatic
// choice from a camera that refuses UDP (RTSP 461): the client falls back
// to TCP interleaved.
func TestPullTransports(t *testing.T) {
	cases := []struct {
		name, transport string
		camArgs         []string
		want            string
	}{
		{"tcp forced", TransportTCP, nil, "TCP"},
		{"udp forced", TransportUDP, nil, "UDP"},
		{"auto falls back to tcp", TransportAuto, []string{"--protocols", "tcp"}, "TCP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cam := startCamera(t, append([]string{"--audio", "pcma"}, tc.camArgs...)...)
			rec := newRecorder(false)
			p, tr, err := pull(t, "|/cam", cam, Config{Transport: tc.transport}, rec, nil)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if tr.Transport != tc.want {
				t.Fatalf("transport %q, want %q", tr.Transport, tc.want)
			}
			if tr.Audio == nil || tr.Audio.Codec != CodecPCMA || tr.Audio.PayloadType != 8 {
				t.Fatalf("audio %+v, want PCMA pt 8", tr.Audio)
			}
			rec.waitUntil(t, "media", func(v, a int) bool { return v >= 50 && a >= 3 })
			if got := p.Stats().Transport; got != tc.want {
				t.Fatalf("stats transport %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPullReconnectsAfterCameraRestart stops the camera mid-pull and starts
// it again on the same port: the puller reports reconnecting, plays again,
// and the sink sees one continuous stream (one SSRC per track, sequence
// numbers going on).
func TestPullReconnectsAfterCameraRestart(t *testing.T) {
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			cam := startCamera(t, "--user", "admin", "--password", "pw", "--audio", "pcmu")
			rec := newRecorder(false)
			ev := newEventLog()
			cfg := Config{Transport: transport, ReadTimeout: 2 * time.Second,
				Backoff: Backoff{Initial: 200 * time.Millisecond, Max: time.Second}}
			p, _, err := pull(t, "admin:pw|/cam", cam, cfg, rec, ev)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			ev.waitState(t, StatePlaying)
			rec.waitUntil(t, "media before the restart", func(v, a int) bool { return v >= 50 && a >= 3 })
			v0, a0 := rec.counts()

			lostAt := time.Now()
			cam.restart()
			re := ev.waitState(t, StateReconnecting)
			if !errors.Is(re.Err, ErrStreamLost) {
				t.Errorf("reconnecting because %v, want ErrStreamLost", re.Err)
			}
			ev.waitState(t, StatePlaying)
			rec.waitUntil(t, "media after the restart", func(v, a int) bool { return v >= v0+50 && a >= a0+3 })
			t.Logf("camera back after %v; events %v", time.Since(lostAt).Round(time.Millisecond), ev.states())

			if st := p.Stats(); st.Reconnects != 1 || st.State != StatePlaying {
				t.Fatalf("stats %+v, want one reconnection and playing", st)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.videoSSRCs) != 1 || len(rec.audioSSRCs) != 1 {
				t.Fatalf("SSRCs video %v audio %v: the stream is not continuous", rec.videoSSRCs, rec.audioSSRCs)
			}
			if rec.seqBackJumps != 0 {
				t.Fatalf("video sequence numbers jumped back %d times", rec.seqBackJumps)
			}
		})
	}
}

// TestPullFailures checks the typed errors of cameras that cannot be
// pulled, and that nothing is left running (goleak in TestMain).
func TestPullFailures(t *testing.T) {
	cam := startCamera(t, "--user", "admin", "--password", "right", "--audio", "none")
	t.Run("wrong password", func(t *testing.T) {
		p, _, err := pull(t, "admin:wrong|/cam", cam, Config{}, newRecorder(false), nil)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 401 {
			t.Fatalf("err %v, want a *StatusError 401", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("the error shows the password: %v", err)
		}
		select {
		case <-p.Done():
		default:
			t.Fatal("a puller whose start failed is not done")
		}
		if p.State() != StateFailed || !errors.Is(p.Err(), ErrUnauthorized) {
			t.Fatalf("state %v err %v", p.State(), p.Err())
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, _, err := pull(t, "|/cam", cam, Config{}, newRecorder(false), nil)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		_, _, err := pull(t, "admin:right|/nothing", cam, Config{}, newRecorder(false), nil)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err %v, want ErrNotFound", err)
		}
	})
	t.Run("retried only as configured", func(t *testing.T) {
		ev := newEventLog()
		cfg := Config{Retries: 2, RetryPermanent: true, Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}}
		_, _, err := pull(t, "admin:wrong|/cam", cam, cfg, newRecorder(false), ev)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
		n := 0
		for _, s := range ev.states() {
			if s == "connecting" {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d connection attempts (%v), want 3", n, ev.states())
		}
	})
}

// TestPullTrackChoice checks a camera with nothing usable (VP8, AAC) and
// one whose AAC audio is left out of this build.
func TestPullTrackChoice(t *testing.T) {
	t.Run("no usable track", func(t *testing.T) {
		cam := startCamera(t, "--video", "vp8", "--audio", "aac")
		_, _, err := pull(t, "|/cam", cam, Config{}, newRecorder(false), nil)
		if !errors.Is(err, ErrNoUsableTrack) {
			t.Fatalf("err %v, want ErrNoUsableTrack", err)
		}
		if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "vp8") || !strings.Contains(msg, "mpeg4-generic") {
			t.Errorf("the error does not say what was offered: %v", err)
		}
	})
	t.Run("aac joins video-only", func(t *testing.T) {
		cam := startCamera(t, "--audio", "aac")
		rec := newRecorder(false)
		_, tr, err := pull(t, "|/cam", cam, Config{Transport: TransportTCP}, rec, nil)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if tr.Video == nil || tr.Audio != nil || tr.AudioNote != NoteAACNeedsCgo {
			t.Fatalf("tracks video %v audio %v note %q", tr.Video, tr.Audio, tr.AudioNote)
		}
		rec.waitUntil(t, "video", func(v, a int) bool { return v >= 20 })
		if _, a := rec.counts(); a != 0 {
			t.Fatalf("%d audio packets from a track that was not set up", a)
		}
	})
	t.Run("opus", func(t *testing.T) {
		cam := startCamera(t, "--audio", "opus")
		rec := newRecorder(false)
		_, tr, err := pull(t, "|/cam", cam, Config{Transport: TransportTCP}, rec, nil)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		if tr.Audio == nil || tr.Audio.Codec != CodecOpus || tr.Audio.ClockRate != 48000 {
			t.Fatalf("audio %+v, want opus/48000", tr.Audio)
		}
		rec.waitUntil(t, "media", func(v, a int) bool { return v >= 20 && a >= 3 })
	})
}

// TestPullEscapedCredentials: credentials with reserved characters,
// percent-escaped in the call string, reach the camera's digest check
// intact.
func TestPullEscapedCredentials(t *testing.T) {
	cam := startCamera(t, "--user", "op@site", "--password", "p:ss/w@rd%1", "--audio", "none")
	rec := newRecorder(false)
	_, tr, err := pull(t, "op%40site:p%3Ass%2Fw%40rd%251|/cam", cam, Config{Transport: TransportTCP}, rec, nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if tr.Video == nil {
		t.Fatal("no video")
	}
	rec.waitUntil(t, "video", func(v, a int) bool { return v >= 10 })
}

// TestPullBasicAuth: a camera that only offers Basic authentication.
func TestPullBasicAuth(t *testing.T) {
	cam := startCamera(t, "--auth", "basic", "--user", "admin", "--password", "pw", "--audio", "none")
	if _, _, err := pull(t, "admin:bad|/cam", cam, Config{Transport: TransportTCP}, newRecorder(false), nil); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	rec := newRecorder(false)
	if _, _, err := pull(t, "admin:pw|/cam", cam, Config{Transport: TransportTCP}, rec, nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	rec.waitUntil(t, "video", func(v, a int) bool { return v >= 10 })
}
