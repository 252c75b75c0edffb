#!/usr/bin/python3
"""Fake IP camera: RTSP server with H.264 video + PCMU (or AAC/opus) audio
from videotestsrc/audiotestsrc.  Run with Debian's /usr/bin/python3
(python3-gi + gir1.2-gst-rtsp-server-1.0).

  /usr/bin/python3 rtsp_cam.py --port 8554 --path /cam --audio pcmu
  /usr/bin/python3 rtsp_cam.py --user admin --password secret   # digest auth
  ffprobe -rtsp_transport tcp rtsp://127.0.0.1:8554/cam

--port 0 binds a free port; the "ready" line names the port bound.
--video vp8|none and --protocols tcp make cameras Roomgate must refuse or
fall back on.
"""
import argparse
import signal
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--address", default="127.0.0.1")
ap.add_argument("--port", default="8554")
ap.add_argument("--path", default="/cam")
ap.add_argument("--width", type=int, default=640)
ap.add_argument("--height", type=int, default=360)
ap.add_argument("--fps", type=int, default=25)
ap.add_argument("--bitrate", type=int, default=800, help="kbit/s")
ap.add_argument("--gop", type=int, default=25, help="keyframe interval (frames)")
ap.add_argument("--audio", choices=["pcmu", "pcma", "aac", "opus", "none"], default="pcmu")
ap.add_argument("--freq", type=int, default=1000, help="audiotestsrc tone Hz")
ap.add_argument("--video", choices=["h264", "vp8", "none"], default="h264")
ap.add_argument("--protocols", choices=["all", "tcp", "udp"], default="all")
ap.add_argument("--auth", choices=["digest", "basic"], default="digest")
ap.add_argument("--user")
ap.add_argument("--password")
a = ap.parse_args()

Gst.init(None)

raw = (
    f"videotestsrc is-live=true pattern=smpte ! "
    f"video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 ! "
    f"clockoverlay ! videoconvert ! "
)
video = {
    "h264": raw + f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={a.bitrate} key-int-max={a.gop} ! "
            f"video/x-h264,profile=constrained-baseline ! "
            f"rtph264pay name=pay0 pt=96 config-interval=1",
    "vp8": raw + f"vp8enc deadline=1 target-bitrate={a.bitrate * 1000} ! rtpvp8pay name=pay0 pt=96",
    "none": "",
}[a.video]
tone = f"audiotestsrc is-live=true wave=sine freq={a.freq} volume=0.3"
apay = "pay1" if video else "pay0"
audio = {
    "pcmu": f"{tone} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name={apay} pt=0",
    "pcma": f"{tone} ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name={apay} pt=8",
    "aac": f"{tone} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! "
           f"avenc_aac ! rtpmp4gpay name={apay} pt=97",
    "opus": f"{tone} ! audioconvert ! audioresample ! audio/x-raw,rate=48000 ! opusenc ! "
            f"rtpopuspay name={apay} pt=98",
    "none": "",
}[a.audio]
launch = f"( {video} {audio} )"

server = GstRtspServer.RTSPServer()
server.set_address(a.address)
server.set_service(a.port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(True)          # one pipeline for all clients (like a camera)
if a.protocols == "tcp":
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
elif a.protocols == "udp":
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)

if a.user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if a.auth == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(a.user, a.password, token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role("user")
    perms.add_permission_for_role("user", "media.factory.access", True)
    perms.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(perms)

server.get_mount_points().add_factory(a.path, factory)
if server.attach(None) == 0:
    sys.exit(f"cannot bind {a.address}:{a.port}")
loop = GLib.MainLoop()
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
print(f"ready rtsp://{a.address}:{server.get_bound_port()}{a.path} audio={a.audio}"
      f"{' auth=' + a.auth if a.user else ''}", flush=True)
loop.run()
