// Package per is the ASN.1 Packed Encoding Rules codec (ITU-T X.691, BASIC-PER, ALIGNED
// variant) that H.225.0 and H.245 are defined in. It owns the bit-level encoding only: the
// schema (package schema) says what types exist, and the message packages (h225, h245) say
// what the fields mean.
//
// # Design: a table-driven interpreter, not generated types
//
// The ITU-T modules define about 2,000 types reachable from H323-UserInformation, RasMessage
// and MultimediaSystemControlMessage, and they grow with every version. Generated Go structs
// and marshalers for all of them would be tens of thousands of lines that must be regenerated
// and reviewed per version, and would still need a generic escape hatch for the unknown
// extensions every proxy must carry through unchanged. Instead, a small generator
// (h323/internal/asngen) turns the modules into a table of Type values, and this package
// interprets that table in both directions. The consequences, deliberately chosen:
//
//   - one place implements each X.691 rule, so it is tested once and fuzzed once;
//   - values are one generic Value tree, so unknown SEQUENCE extension additions and unknown
//     CHOICE alternatives are kept as raw open-type bytes and re-encode byte for byte (proven
//     on every vector of the shared test captures);
//   - a Decoder reuses its value slabs and a Value aliases the input, so decoding and
//     encoding a Setup with fastStart, a TerminalCapabilitySet or an RRQ allocate nothing once
//     warm (see the benchmarks in package pdu);
//   - typed access is layered on top (h225, h245) only for the messages call legs build and
//     read, with JSON views (ToJSON, FromJSON) for tools.
//
// # Hostile input
//
// Every length and count is checked against the remaining input before anything is
// allocated; counts of zero-size elements are capped; nesting is capped by MaxDepth; errors
// are *PathError values naming the type/field path and bit offset where decoding stopped, and
// wrap the Err* sentinels. Nothing panics on any input (fuzzed).
//
// Supported: SEQUENCE (OPTIONAL, extension additions as open types), CHOICE (extensible),
// constrained, semi-constrained, unconstrained and extensible INTEGER, ENUMERATED, BOOLEAN,
// NULL, BIT and OCTET STRING with size constraints, IA5String, BMPString, NumericString,
// PrintableString, VisibleString and GeneralString with permitted-alphabet index encoding,
// OBJECT IDENTIFIER, SEQUENCE OF with size, open types, and length determinants including
// 16K fragmentation (octet strings, open types, SEQUENCE OF). Not supported (unused by H.323):
// REAL, DEFAULT values, version brackets, fragmented bit and character strings, UNALIGNED PER.
package per
