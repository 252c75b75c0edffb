#!/bin/sh
# gen-prompts.sh regenerates the spoken prompts in prompts/ with espeak-ng and
# sox: 16 kHz, 16-bit, mono WAV, leading and trailing silence trimmed, peak
# normalised to -3 dBFS, and a short tail of silence so that prompts played
# one after another ("there are", "4", "participants") do not run together.
# sox runs in repeatable mode (-R), so the same tools give the same bytes.
#
# Usage: scripts/gen-prompts.sh [outdir]     (default: prompts/ of the repo)
# Environment: VOICE (espeak-ng voice, default en-us), SPEED (words per
# minute, default 165).
#
# The bridge embeds these files; a configured prompt directory holding files
# of the same names (recordings, translations) replaces them at run time.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/prompts"}
voice=${VOICE:-en-us}
speed=${SPEED:-165}

command -v espeak-ng >/dev/null || { echo "gen-prompts: espeak-ng not found" >&2; exit 1; }
command -v sox >/dev/null || { echo "gen-prompts: sox not found" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say NAME TEXT: speak TEXT into $out/NAME.wav.
say() {
	espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" "$2"
	# Trim silence at both ends (the reverse trick trims the tail), then
	# resample, normalise and add 80 ms of trailing silence.
	sox -R "$tmp/raw.wav" -r 16000 -b 16 -c 1 -e signed-integer "$out/$1.wav" \
		silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
		gain -n -3 pad 0 0.08
}

say welcome "Welcome."
say enter-conference-id "Please enter the conference number, followed by the hash key."
say enter-pin "Please enter the PIN, followed by the hash key."
say wrong-pin "That PIN is not correct."
say invalid-conference "That conference number is not valid."
say first-participant "You are the first participant."
say only-participant "You are the only participant."
say muted "You are muted."
say unmuted "You are unmuted."
say locked "This conference is locked."
say there-are "There are"
say you-are-participant "You are participant"
say participants "participants."
say conference-ended "The conference has ended."
say goodbye "Goodbye."
say unlocked "The conference is unlocked."
say moderator "You are now a moderator."
say enter-moderator-pin "Please enter the moderator PIN, followed by the hash key."
say all-muted "All participants except moderators are muted."
say participant-removed "The participant has been removed."
say confirm-end "To end the conference for everyone, press one. To cancel, press any other key."
say not-allowed "This command is for moderators."
say too-many-attempts "Too many attempts."
say admit-request "Someone asks to join your conference. Press one to admit, or two to decline."
# help reads the default key map of conf's in-call commands; keep it in
# step with that map.
say help "Star six, mute or unmute. Star four and star seven, listen volume down and up. \
Star five and star eight, talk volume down and up. Star one, number of participants. \
Star nine, become moderator. Moderators: star two, mute all; star three, lock or unlock; \
star zero, remove the last participant to join; pound pound, end the conference. \
Star star, this help."
for d in 0 1 2 3 4 5 6 7 8 9; do
	say "digit-$d" "$d"
done
echo "gen-prompts: wrote $(ls "$out"/*.wav | wc -l) prompts to $out"
