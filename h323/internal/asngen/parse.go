package main

import (
	"fmt"
	"math"
	"strconv"
)

// node is a parsed ASN.1 type.
type node struct {
	kind  string // built-in type name, "REF", "SEQUENCE OF", "OPEN"
	ref   string
	args  []*node // actual parameters of a parameterized reference
	comps []comp  // SEQUENCE components / CHOICE alternatives
	root  int     // root components/alternatives/items before the extension marker
	ext   bool
	names []string // ENUMERATED items
	elem  *node    // SEQUENCE OF element, open type content
	cons  []*cons
	line  int
}

type comp struct {
	name     string
	typ      *node
	optional bool
}

// cons is the PER-visible part of one constraint.
type cons struct {
	hasLb, hasUb bool
	lb, ub       int64
	hasVal       bool
	ext          bool
	size         *cons
	from         string
	contained    *node
}

// module is a parsed ASN.1 module.
type module struct {
	name    string
	types   map[string]*node
	params  map[string][]string // parameterized types: formal parameter names
	order   []string
	imports map[string]string // imported name -> module
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *parser) peekAt(k int) string {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k].text
	}
	return ""
}

func (p *parser) line() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].line
	}
	return -1
}

func (p *parser) next() token {
	if p.pos < len(p.toks) {
		p.pos++
		return p.toks[p.pos-1]
	}
	return token{}
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("line %d near %q: %s", p.line(), p.peek(), fmt.Sprintf(format, a...))
}

func (p *parser) expect(s string) error {
	if p.peek() != s {
		return p.errf("expected %q", s)
	}
	p.pos++
	return nil
}

func (p *parser) accept(s string) bool {
	if p.peek() == s {
		p.pos++
		return true
	}
	return false
}

func isUpper(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }
func isLower(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }

// parseModule parses one module: header, IMPORTS and type assignments.
func parseModule(src string) (*module, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	m := &module{types: map[string]*node{}, params: map[string][]string{}, imports: map[string]string{}}
	m.name = p.next().text
	for p.peek() != "BEGIN" {
		if p.peek() == "" {
			return nil, p.errf("no BEGIN")
		}
		p.next()
	}
	p.next()
	if p.accept("EXPORTS") {
		for !p.accept(";") {
			p.next()
		}
	}
	if p.accept("IMPORTS") {
		var pending []string
		for !p.accept(";") {
			t := p.next().text
			switch {
			case t == "FROM":
				mod := p.next().text
				for _, n := range pending {
					m.imports[n] = mod
				}
				pending = pending[:0]
			case t == "," || t == "{" || t == "}":
			case t == "":
				return nil, p.errf("unterminated IMPORTS")
			default:
				pending = append(pending, t)
			}
		}
	}
	for p.peek() != "END" {
		if p.peek() == "" {
			return nil, p.errf("no END")
		}
		name := p.next().text
		if !isUpper(name) {
			return nil, p.errf("value assignments are not supported (%s)", name)
		}
		var formals []string
		if p.accept("{") {
			for !p.accept("}") {
				t := p.next().text
				if t != "," {
					formals = append(formals, t)
				}
			}
		}
		if err := p.expect("::="); err != nil {
			return nil, err
		}
		t, err := p.parseType()
		if err != nil {
			return nil, fmt.Errorf("type %s: %w", name, err)
		}
		if _, dup := m.types[name]; dup {
			return nil, fmt.Errorf("type %s defined twice", name)
		}
		m.types[name] = t
		if formals != nil {
			m.params[name] = formals
		}
		m.order = append(m.order, name)
	}
	return m, nil
}

var stringTypes = map[string]bool{"IA5String": true, "BMPString": true, "NumericString": true,
	"PrintableString": true, "VisibleString": true, "GeneralString": true}

// unsupported are X.680 types the H.323 modules do not use; failing on them keeps a future
// module from being half-translated.
var unsupported = map[string]bool{"REAL": true, "EXTERNAL": true, "EMBEDDED": true, "ANY": true,
	"UTF8String": true, "GeneralizedTime": true, "UTCTime": true, "CHARACTER": true, "RELATIVE-OID": true,
	"TeletexString": true, "UniversalString": true, "GraphicString": true, "ObjectDescriptor": true}

func (p *parser) parseType() (*node, error) {
	n := &node{line: p.line()}
	t := p.next().text
	switch {
	case t == "BOOLEAN" || t == "NULL":
		n.kind = t
	case t == "INTEGER":
		n.kind = t
		if p.peek() == "{" {
			p.skipBraces()
		}
	case t == "ENUMERATED":
		n.kind = t
		if err := p.parseEnum(n); err != nil {
			return nil, err
		}
	case t == "BIT" || t == "OCTET":
		if err := p.expect("STRING"); err != nil {
			return nil, err
		}
		n.kind = t + " STRING"
		if p.peek() == "{" {
			p.skipBraces()
		}
	case t == "OBJECT":
		if err := p.expect("IDENTIFIER"); err != nil {
			return nil, err
		}
		n.kind = "OBJECT IDENTIFIER"
	case stringTypes[t]:
		n.kind = t
	case t == "SEQUENCE" || t == "SET" || t == "CHOICE":
		if p.peek() == "{" {
			if t == "SET" {
				return nil, p.errf("SET is not supported")
			}
			n.kind = t
			if err := p.parseComps(n); err != nil {
				return nil, err
			}
			break
		}
		// SEQUENCE [SIZE (...)] OF T  or  SEQUENCE (SIZE (...)) OF T
		n.kind = "SEQUENCE OF"
		if p.peek() == "SIZE" {
			p.next()
			c, err := p.parseConstraintBody()
			if err != nil {
				return nil, err
			}
			n.cons = append(n.cons, &cons{size: c})
		} else if p.peek() == "(" {
			c, err := p.parseConstraint()
			if err != nil {
				return nil, err
			}
			n.cons = append(n.cons, c)
		}
		if err := p.expect("OF"); err != nil {
			return nil, err
		}
		e, err := p.parseType()
		if err != nil {
			return nil, err
		}
		n.elem = e
		return n, nil // constraints after "OF T" belong to T
	case t == "TYPE-IDENTIFIER":
		if p.next().text != ".&Type" {
			return nil, p.errf("only TYPE-IDENTIFIER.&Type is supported")
		}
		n.kind = "OPEN"
	case unsupported[t]:
		return nil, p.errf("type %s is not supported", t)
	case isUpper(t):
		n.kind, n.ref = "REF", t
		if p.peek() == "{" {
			p.next()
			for !p.accept("}") {
				if p.accept(",") {
					continue
				}
				a, err := p.parseType()
				if err != nil {
					return nil, err
				}
				n.args = append(n.args, a)
			}
		}
	default:
		return nil, p.errf("unsupported type %q", t)
	}
	for p.peek() == "(" {
		c, err := p.parseConstraint()
		if err != nil {
			return nil, err
		}
		n.cons = append(n.cons, c)
	}
	return n, nil
}

func (p *parser) skipBraces() {
	depth := 0
	for {
		t := p.next().text
		switch t {
		case "{":
			depth++
		case "}":
			depth--
		case "":
			return
		}
		if depth == 0 {
			return
		}
	}
}

func (p *parser) parseEnum(n *node) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	n.root = -1
	for !p.accept("}") {
		t := p.next().text
		switch {
		case t == ",":
		case t == "...":
			n.ext = true
			n.root = len(n.names)
		case isLower(t):
			if p.accept("(") {
				v := p.next().text
				if v != strconv.Itoa(len(n.names)) {
					return p.errf("enumeration item %s numbered %s out of order", t, v)
				}
				if err := p.expect(")"); err != nil {
					return err
				}
			}
			n.names = append(n.names, t)
		default:
			return p.errf("bad enumeration item %q", t)
		}
	}
	if n.root < 0 {
		n.root = len(n.names)
	}
	return nil
}

func (p *parser) parseComps(n *node) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	n.root = -1
	for !p.accept("}") {
		if p.accept(",") {
			continue
		}
		if p.accept("...") {
			if n.ext {
				return p.errf("second extension marker is not supported")
			}
			n.ext = true
			n.root = len(n.comps)
			continue
		}
		name := p.next().text
		if !isLower(name) {
			return p.errf("bad component name %q", name)
		}
		t, err := p.parseType()
		if err != nil {
			return fmt.Errorf("component %s: %w", name, err)
		}
		c := comp{name: name, typ: t}
		if p.accept("OPTIONAL") {
			c.optional = true
		}
		if p.peek() == "DEFAULT" {
			return p.errf("DEFAULT is not supported")
		}
		n.comps = append(n.comps, c)
	}
	if n.root < 0 {
		n.root = len(n.comps)
	}
	return nil
}

// parseConstraint parses "( ... )".
func (p *parser) parseConstraint() (*cons, error) {
	return p.parseConstraintBody()
}

func (p *parser) parseConstraintBody() (*cons, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	c := &cons{}
	for !p.accept(")") {
		t := p.peek()
		switch {
		case t == "":
			return nil, p.errf("unterminated constraint")
		case t == "," || t == "^" || t == "|":
			p.next()
		case t == "...":
			p.next()
			c.ext = true
		case t == "SIZE":
			p.next()
			s, err := p.parseConstraintBody()
			if err != nil {
				return nil, err
			}
			c.size = s
		case t == "FROM":
			p.next()
			s, err := p.parseConstraintBody()
			if err != nil {
				return nil, err
			}
			c.from = s.from
		case t == "WITH":
			p.next()
			p.next() // COMPONENT(S)
			p.skipBraces()
		case t == "CONSTRAINED":
			p.next()
			p.next() // BY
			p.skipBraces()
		case t == "(":
			s, err := p.parseConstraintBody()
			if err != nil {
				return nil, err
			}
			merge(c, s)
		case p.toks[p.pos].str:
			c.from += p.next().text
		case t == "MIN" || t == "MAX" || isNumber(t):
			lb, hasLb, err := bound(p.next().text)
			if err != nil {
				return nil, err
			}
			ub, hasUb := lb, hasLb
			if p.accept("..") {
				if ub, hasUb, err = bound(p.next().text); err != nil {
					return nil, err
				}
			}
			c.hasVal, c.lb, c.hasLb, c.ub, c.hasUb = true, lb, hasLb, ub, hasUb
		case isUpper(t):
			ct, err := p.parseType()
			if err != nil {
				return nil, err
			}
			c.contained = ct
		default:
			return nil, p.errf("unsupported constraint element %q", t)
		}
	}
	return c, nil
}

func merge(dst, src *cons) {
	if src.hasVal {
		dst.hasVal, dst.lb, dst.hasLb, dst.ub, dst.hasUb = true, src.lb, src.hasLb, src.ub, src.hasUb
	}
	dst.ext = dst.ext || src.ext
	if src.size != nil {
		dst.size = src.size
	}
	if src.from != "" {
		dst.from = src.from
	}
	if src.contained != nil {
		dst.contained = src.contained
	}
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func bound(s string) (int64, bool, error) {
	switch s {
	case "MIN", "MAX":
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v == math.MinInt64 {
		return 0, false, fmt.Errorf("bad bound %q", s)
	}
	return v, true, nil
}
