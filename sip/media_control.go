package sip

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RFC 5168: XML schema for media control. Room systems that do not use RTCP
// feedback ask for a keyframe with an INFO carrying
//
//	<media_control><vc_primitive><to_encoder><picture_fast_update/>
//	</to_encoder></vc_primitive></media_control>
//
// and report trouble with <general_error>. We read these bodies (the peer
// asks us for a keyframe: it goes to the source it sees) and send them (the
// room needs a keyframe from the peer and it negotiated no PLI/FIR).

// ContentTypeMediaControl is the Content-Type of RFC 5168 bodies.
const ContentTypeMediaControl = "application/media_control+xml"

// maxMediaControlSize bounds the bodies we read; real ones are ~200 bytes.
const maxMediaControlSize = 4 << 10

// MediaControl is what an RFC 5168 body asks for.
type MediaControl struct {
	// FastUpdate: some vc_primitive asks the encoder for a
	// picture_fast_update (a keyframe).
	FastUpdate bool
	// StreamIDs are the stream_id values of those primitives, when given.
	StreamIDs []string
	// Errors are the general_error texts of the body.
	Errors []string
}

// mediaControlXML is the RFC 5168 §3 schema, only as far as we use it.
type mediaControlXML struct {
	XMLName    xml.Name `xml:"media_control"`
	Primitives []struct {
		ToEncoder []struct {
			FastUpdate []struct{} `xml:"picture_fast_update"`
		} `xml:"to_encoder"`
		StreamID []string `xml:"stream_id"`
	} `xml:"vc_primitive"`
	GeneralErrors []string `xml:"general_error"`
}

// ParseMediaControl reads an application/media_control+xml body. A body
// that is not well-formed XML, is larger than 4 KiB, or whose root is not
// media_control fails with ErrBadMediaControl.
func ParseMediaControl(body []byte) (MediaControl, error) {
	var mc MediaControl
	if len(body) > maxMediaControlSize {
		return mc, fmt.Errorf("media_control body of %d bytes is larger than %d: %w", len(body), maxMediaControlSize, ErrBadMediaControl)
	}
	var doc mediaControlXML
	dec := xml.NewDecoder(bytes.NewReader(body))
	// Bodies are UTF-8 or ASCII (RFC 5168 §3); any other declared charset
	// is read as is rather than refused.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&doc); err != nil {
		return mc, fmt.Errorf("reading media_control body: %w: %v", ErrBadMediaControl, err)
	}
	// Nothing but whitespace, comments and processing instructions may
	// follow the root element.
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return mc, fmt.Errorf("reading media_control body: %w: %v", ErrBadMediaControl, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return mc, fmt.Errorf("reading media_control body: %w: text after the root element", ErrBadMediaControl)
			}
		case xml.StartElement:
			return mc, fmt.Errorf("reading media_control body: %w: second root element <%s>", ErrBadMediaControl, t.Name.Local)
		}
	}
	for _, p := range doc.Primitives {
		asked := false
		for _, te := range p.ToEncoder {
			if len(te.FastUpdate) > 0 {
				asked = true
			}
		}
		if asked {
			mc.FastUpdate = true
			for _, id := range p.StreamID {
				mc.StreamIDs = append(mc.StreamIDs, strings.TrimSpace(id))
			}
		}
	}
	for _, e := range doc.GeneralErrors {
		mc.Errors = append(mc.Errors, strings.TrimSpace(e))
	}
	return mc, nil
}

// fastUpdateBody is the body of the picture_fast_update INFO we send.
const fastUpdateBody = `<?xml version="1.0" encoding="utf-8" ?>` + "\r\n" +
	"<media_control>\r\n <vc_primitive>\r\n  <to_encoder>\r\n   <picture_fast_update/>\r\n" +
	"  </to_encoder>\r\n </vc_primitive>\r\n</media_control>\r\n"

// isMediaControl reports whether a Content-Type value names RFC 5168 bodies.
func isMediaControl(ct string) bool {
	v, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(v), ContentTypeMediaControl)
}
