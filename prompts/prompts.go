// Package prompts holds the spoken prompts the bridge ships with: 16 kHz,
// 16-bit mono WAV files made by scripts/gen-prompts.sh with espeak-ng and
// sox, one file per prompt, named <prompt>.wav. It only embeds the files;
// bridge/prompt decodes them, lets a configured directory replace them and
// plays them.
package prompts

import (
	"embed"
	"io/fs"
)

//go:embed *.wav
var files embed.FS

// FS returns the embedded prompt files, at the root of the file system.
func FS() fs.FS { return files }
