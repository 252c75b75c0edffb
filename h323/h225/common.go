// Package h225 builds and reads the H.225.0 messages H.323 call legs exchange: the call
// signalling UUIEs carried in Q.931 User-user (Setup, CallProceeding, Alerting, Connect,
// Progress, Facility, ReleaseComplete, Information, Status, StatusInquiry) and the RAS messages
// sent to gatekeepers. Builders take typed parameters and return complete PER encodings; Parse
// functions return the fields a call leg acts on. Everything goes through the schema-checked
// per interpreter, so a builder cannot emit a field the ITU-T module does not define.
//
// It owns message content only: no sockets, timers or call state (those belong to the call
// legs), and no Q.931 or TPKT framing (packages q931 and tpkt).
package h225

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"

	"github.com/roomgate/roomgate/h323/per"
)

// ProtocolID is the H.225.0 protocol identifier we send: version 7, which h323plus, GnuGk and
// current room systems speak; older and newer peers accept it (H.225.0 clause 7.6).
const ProtocolID = "0.0.8.2250.0.7"

// GUID is a 16-octet conference or call identifier.
type GUID [16]byte

// NewGUID returns a random GUID read from r (inject crypto/rand.Reader in production).
func NewGUID(r io.Reader) (GUID, error) {
	var g GUID
	if _, err := io.ReadFull(r, g[:]); err != nil {
		return GUID{}, fmt.Errorf("read GUID: %w", err)
	}
	g[6] = g[6]&0x0F | 0x40 // version 4
	g[8] = g[8]&0x3F | 0x80 // RFC 4122 variant
	return g, nil
}

// Vendor identifies the product in EndpointType and RAS messages (H.225.0 VendorIdentifier).
type Vendor struct {
	T35Country   int // ITU-T T.35 country code, e.g. 9 (Australia, used by OpenH323 lineage)
	T35Extension int
	Manufacturer int
	ProductID    string
	VersionID    string
}

// Role is what kind of H.323 entity we present ourselves as.
type Role int

// Roles an endpoint can announce in EndpointType.
const (
	RoleTerminal Role = iota
	RoleMCU
	RoleGateway
)

// Endpoint is our EndpointType.
type Endpoint struct {
	Vendor Vendor
	Role   Role
}

// AliasKind selects the AliasAddress alternative.
type AliasKind int

// Alias kinds in use by H.323 endpoints.
const (
	AliasH323ID AliasKind = iota
	AliasDialedDigits
	AliasURL
	AliasEmail
)

var aliasFields = map[AliasKind]string{AliasH323ID: "h323-ID", AliasDialedDigits: "dialedDigits",
	AliasURL: "url-ID", AliasEmail: "email-ID"}

// Alias is one AliasAddress.
type Alias struct {
	Kind  AliasKind
	Value string
}

// H323ID returns an h323-ID alias.
func H323ID(s string) Alias { return Alias{Kind: AliasH323ID, Value: s} }

// Digits returns a dialedDigits alias (characters 0-9 * # , only).
func Digits(s string) Alias { return Alias{Kind: AliasDialedDigits, Value: s} }

func vendorJSON(v Vendor) map[string]any {
	m := map[string]any{"vendor": map[string]any{"t35CountryCode": v.T35Country,
		"t35Extension": v.T35Extension, "manufacturerCode": v.Manufacturer}}
	if v.ProductID != "" {
		m["productId"] = hex.EncodeToString([]byte(v.ProductID))
	}
	if v.VersionID != "" {
		m["versionId"] = hex.EncodeToString([]byte(v.VersionID))
	}
	return m
}

func endpointJSON(e Endpoint) map[string]any {
	m := map[string]any{"vendor": vendorJSON(e.Vendor), "mc": e.Role == RoleMCU, "undefinedNode": false}
	switch e.Role {
	case RoleMCU:
		m["mcu"] = map[string]any{}
	case RoleGateway:
		m["gateway"] = map[string]any{}
	default:
		m["terminal"] = map[string]any{}
	}
	return m
}

func aliasesJSON(as []Alias) ([]any, error) {
	out := make([]any, 0, len(as))
	for _, a := range as {
		f, ok := aliasFields[a.Kind]
		if !ok || a.Value == "" {
			return nil, fmt.Errorf("alias %+v: %w", a, ErrParam)
		}
		out = append(out, map[string]any{f: a.Value})
	}
	return out, nil
}

func addrJSON(a netip.AddrPort) (map[string]any, error) {
	ip := a.Addr().Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		return map[string]any{"ipAddress": map[string]any{"ip": hex.EncodeToString(b[:]), "port": int(a.Port())}}, nil
	case ip.Is6():
		b := ip.As16()
		return map[string]any{"ip6Address": map[string]any{"ip": hex.EncodeToString(b[:]), "port": int(a.Port())}}, nil
	}
	return nil, fmt.Errorf("transport address %v: %w", a, ErrParam)
}

// encode converts the JSON view j of type t to PER.
func encode(t *per.Type, j any) ([]byte, error) {
	v, err := per.FromJSON(t, j, nil)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", t.Name, err)
	}
	var e per.Encoder
	b, err := e.Encode(nil, t, &v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t.Name, err)
	}
	return b, nil
}

// readAddr converts a decoded TransportAddress to an AddrPort (IPv4 and IPv6 only).
func readAddr(v *per.Value) (netip.AddrPort, bool) {
	name, alt, ok := v.Choice()
	if !ok {
		return netip.AddrPort{}, false
	}
	ipv, port := alt.Field("ip"), alt.Field("port")
	if ipv == nil || port == nil {
		return netip.AddrPort{}, false
	}
	switch name {
	case "ipAddress", "ip6Address":
		ip, ok := netip.AddrFromSlice(ipv.Bytes)
		if !ok {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ip, uint16(port.Int)), true
	}
	return netip.AddrPort{}, false
}

// readAliases converts a decoded SEQUENCE OF AliasAddress.
func readAliases(v *per.Value) []Alias {
	if v == nil {
		return nil
	}
	var out []Alias
	for i := range v.Elems {
		name, alt, ok := v.Elems[i].Choice()
		if !ok {
			continue
		}
		for k, f := range aliasFields {
			if f == name {
				out = append(out, Alias{Kind: k, Value: alt.Str()})
			}
		}
	}
	return out
}

func readVendor(v *per.Value) Vendor {
	var out Vendor
	if v == nil {
		return out
	}
	if id := v.Field("vendor"); id != nil {
		if f := id.Field("t35CountryCode"); f != nil {
			out.T35Country = int(f.Int)
		}
		if f := id.Field("t35Extension"); f != nil {
			out.T35Extension = int(f.Int)
		}
		if f := id.Field("manufacturerCode"); f != nil {
			out.Manufacturer = int(f.Int)
		}
	}
	if f := v.Field("productId"); f != nil {
		out.ProductID = string(trimNUL(f.Bytes))
	}
	if f := v.Field("versionId"); f != nil {
		out.VersionID = string(trimNUL(f.Bytes))
	}
	return out
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func readGUID(v *per.Value) GUID {
	var g GUID
	if v != nil {
		copy(g[:], v.Bytes)
	}
	return g
}

// choiceName returns the chosen alternative's name, or "" for unknown extensions.
func choiceName(v *per.Value) string {
	if v == nil {
		return ""
	}
	name, _, _ := v.Choice()
	return name
}
