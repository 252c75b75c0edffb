#!/usr/bin/env bash
# Installs the Debian packages of the test peers, but only when one of them
# is missing. As root it runs apt-get; otherwise it prints what to install
# and fails, so a developer machine is never changed silently.
set -euo pipefail

# Each check is "package|shell test that succeeds when it is installed".
checks=(
	"sip-tester|command -v sipp"
	"baresip|command -v baresip"
	"linphone-cli|command -v linphonec"
	"tshark|command -v tshark"
	"sox|command -v sox"
	"libsox-fmt-all|sox --help 2>/dev/null | grep -q 'AUDIO FILE FORMATS:.* mp3'"
	"espeak-ng|command -v espeak-ng"
	"ffmpeg|command -v ffmpeg"
	# PostgreSQL server binaries (initdb, pg_ctl) for the PostgreSQL store tests.
	"postgresql|command -v initdb || ls /usr/lib/postgresql/*/bin/initdb"
	# The IP camera of the RTSP tests: GStreamer's RTSP server from Python.
	"python3-gi|/usr/bin/python3 -c 'import gi'"
	"python3-gst-1.0|/usr/bin/python3 -c 'import gi; gi.require_version(\"Gst\", \"1.0\"); from gi.repository import Gst'"
	"gir1.2-gst-rtsp-server-1.0|/usr/bin/python3 -c 'import gi; gi.require_version(\"GstRtspServer\", \"1.0\"); from gi.repository import GstRtspServer'"
	"gstreamer1.0-plugins-ugly|gst_has x264enc"
	"gstreamer1.0-plugins-good|gst_has rtph264pay"
	"gstreamer1.0-plugins-bad|gst_has openh264enc"
	"gstreamer1.0-libav|gst_has avenc_aac"
	# The SMTP sink of the e-mail invitation tests.
	"python3-aiosmtpd|/usr/bin/python3 -c 'import aiosmtpd'"
)

# gst_has ELEMENT succeeds when a GStreamer element is installed.
gst_has() {
	/usr/bin/python3 - "$1" <<'PY'
import sys, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
sys.exit(0 if Gst.ElementFactory.find(sys.argv[1]) else 1)
PY
}
export -f gst_has

missing=()
for c in "${checks[@]}"; do
	pkg=${c%%|*}
	test=${c#*|}
	bash -c "$test" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "test peers present"
	exit 0
fi

echo "missing test peers: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "run as root, or install them yourself:" >&2
	echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
for c in "${checks[@]}"; do
	bash -c "${c#*|}" >/dev/null 2>&1 || { echo "still missing after install: ${c%%|*}" >&2; exit 1; }
done
