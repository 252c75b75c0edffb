// Package schema holds the PER type tables of H.225.0 v8 (call signalling and RAS), H.245 v17
// and H.235, generated from the ITU-T ASN.1 modules by h323/internal/asngen, and names the
// top-level PDU types. It owns no codec logic (that is package per) and no message semantics.
//
// The tables are data, not code: about 2,000 per.Type values that the per interpreter walks.
// Regenerate with go generate after a module update; a test checks the tables are current
// whenever the modules are available.
package schema

//go:generate go run ../internal/asngen -asn ../../../shared/asn1 -out tables_gen.go

import "github.com/roomgate/roomgate/h323/per"

// Module names as they appear in the ITU-T ASN.1 sources.
const (
	ModuleH225 = "H323-MESSAGES"
	ModuleH245 = "MULTIMEDIA-SYSTEM-CONTROL"
	ModuleH235 = "H235-SECURITY-MESSAGES"
)

// Lookup returns the named type of a module, e.g. Lookup(ModuleH225, "Setup-UUIE"), or nil.
func Lookup(module, name string) *per.Type { return byName[module+"."+name] }

// Names returns every "Module.Type" key known to Lookup, for tools and tests.
func Names() []string {
	out := make([]string, 0, len(byName))
	for k := range byName {
		out = append(out, k)
	}
	return out
}

// The top-level PDUs H.323 puts on the wire, and the types nested in octet strings.
var (
	// H323UserInformation is the PER content of the Q.931 User-user IE (H.225.0 clause 7.2).
	H323UserInformation = mustLookup(ModuleH225, "H323-UserInformation")
	// RasMessage is one RAS PDU, the whole UDP payload (H.225.0 clause 7.7).
	RasMessage = mustLookup(ModuleH225, "RasMessage")
	// MultimediaSystemControlMessage is one H.245 PDU, tunnelled in h245Control or on the
	// separate H.245 TCP channel.
	MultimediaSystemControlMessage = mustLookup(ModuleH245, "MultimediaSystemControlMessage")
	// OpenLogicalChannel is the content of each fastStart octet string (H.323 clause 8.1.7).
	OpenLogicalChannel = mustLookup(ModuleH245, "OpenLogicalChannel")
)

func mustLookup(module, name string) *per.Type {
	t := Lookup(module, name)
	if t == nil {
		panic("schema: generated tables lack " + module + "." + name)
	}
	return t
}
