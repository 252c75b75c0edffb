package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/roomgate/roomgate/h323/per"
)

// builder turns parsed modules into a per.Type graph.
type builder struct {
	mods  map[string]*module
	named map[string]*per.Type // "Module.Name" or "Module.Name{args}" -> type
}

func newBuilder(mods []*module) *builder {
	b := &builder{mods: map[string]*module{}, named: map[string]*per.Type{}}
	for _, m := range mods {
		b.mods[m.name] = m
	}
	return b
}

// scope is where a reference is resolved: a module plus actual parameters of a template.
type scope struct {
	mod    *module
	params map[string]*node
	pscope *scope // scope the actual parameters were written in
}

// lookup finds the module and node a type reference names.
func (b *builder) lookup(sc *scope, name string) (*module, *node, error) {
	m := sc.mod
	if n, ok := m.types[name]; ok {
		return m, n, nil
	}
	if from, ok := m.imports[name]; ok {
		im := b.mods[from]
		if im == nil {
			return nil, nil, fmt.Errorf("%s imports %s from unknown module %s", m.name, name, from)
		}
		if n, ok := im.types[name]; ok {
			return im, n, nil
		}
	}
	return nil, nil, fmt.Errorf("%s: unknown type %s", m.name, name)
}

// named builds (once) the named type mod.name, instantiated with args if parameterized.
func (b *builder) namedType(sc *scope, ref *node) (*per.Type, error) {
	if sc.params != nil {
		if a, ok := sc.params[ref.ref]; ok {
			return b.build(sc.pscope, a)
		}
	}
	m, n, err := b.lookup(sc, ref.ref)
	if err != nil {
		return nil, err
	}
	key := m.name + "." + ref.ref
	formals := m.params[ref.ref]
	var inst *scope
	if len(formals) > 0 {
		if len(ref.args) != len(formals) {
			return nil, fmt.Errorf("%s needs %d parameters", key, len(formals))
		}
		inst = &scope{mod: m, params: map[string]*node{}, pscope: sc}
		var an []string
		for i, f := range formals {
			inst.params[f] = ref.args[i]
			an = append(an, argName(ref.args[i]))
		}
		key += "{" + strings.Join(an, ",") + "}"
	} else {
		inst = &scope{mod: m}
	}
	if t, ok := b.named[key]; ok {
		return t, nil
	}
	t := &per.Type{}
	b.named[key] = t
	built, err := b.build(inst, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	*t = *built
	t.Name = ref.ref
	if len(formals) > 0 {
		t.Name = key[len(m.name)+1:]
	}
	return t, nil
}

func argName(n *node) string {
	if n.kind == "REF" {
		return n.ref
	}
	return n.kind
}

// build creates the type for node n in scope sc, applying n's constraints.
func (b *builder) build(sc *scope, n *node) (*per.Type, error) {
	var t *per.Type
	switch n.kind {
	case "REF":
		base, err := b.namedType(sc, n)
		if err != nil {
			return nil, err
		}
		if len(n.cons) == 0 {
			return base, nil
		}
		if base.Kind == per.KindInvalid {
			return nil, fmt.Errorf("line %d: constrained reference to %s inside its own definition", n.line, n.ref)
		}
		c := *base
		c.Name = ""
		t = &c
	case "BOOLEAN":
		t = &per.Type{Kind: per.KindBoolean}
	case "NULL":
		t = &per.Type{Kind: per.KindNull}
	case "INTEGER":
		t = &per.Type{Kind: per.KindInteger}
	case "ENUMERATED":
		t = &per.Type{Kind: per.KindEnumerated, Names: n.names, Root: n.root, Ext: n.ext}
	case "BIT STRING":
		t = &per.Type{Kind: per.KindBitString}
	case "OCTET STRING":
		t = &per.Type{Kind: per.KindOctetString}
	case "OBJECT IDENTIFIER":
		t = &per.Type{Kind: per.KindObjectID}
	case "IA5String":
		t = &per.Type{Kind: per.KindString, Str: per.IA5String}
	case "BMPString":
		t = &per.Type{Kind: per.KindString, Str: per.BMPString}
	case "NumericString":
		t = &per.Type{Kind: per.KindString, Str: per.NumericString}
	case "PrintableString":
		t = &per.Type{Kind: per.KindString, Str: per.PrintableString}
	case "VisibleString":
		t = &per.Type{Kind: per.KindString, Str: per.VisibleString}
	case "GeneralString":
		t = &per.Type{Kind: per.KindString, Str: per.GeneralString}
	case "SEQUENCE", "CHOICE":
		t = &per.Type{Kind: per.KindSequence, Root: n.root, Ext: n.ext}
		if n.kind == "CHOICE" {
			t.Kind = per.KindChoice
		}
		for _, c := range n.comps {
			ct, err := b.build(sc, c.typ)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			t.Fields = append(t.Fields, per.Field{Name: c.name, Type: ct, Optional: c.optional})
		}
	case "SEQUENCE OF":
		e, err := b.build(sc, n.elem)
		if err != nil {
			return nil, err
		}
		t = &per.Type{Kind: per.KindSequenceOf, Elem: e}
	case "OPEN":
		t = &per.Type{Kind: per.KindOpenType}
	default:
		return nil, fmt.Errorf("line %d: unsupported type %s", n.line, n.kind)
	}
	for _, c := range n.cons {
		if err := b.apply(sc, t, c); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.line, err)
		}
	}
	return t, nil
}

// apply narrows t by the PER-visible parts of constraint c (X.691 clause 9.3).
func (b *builder) apply(sc *scope, t *per.Type, c *cons) error {
	switch t.Kind {
	case per.KindInteger:
		if c.hasVal {
			t.Lb, t.HasLb, t.Ub, t.HasUb = c.lb, c.hasLb, c.ub, c.hasUb
			t.Ext = c.ext
		}
	case per.KindOctetString, per.KindBitString, per.KindString, per.KindSequenceOf:
		if c.size != nil {
			t.Lb, t.HasLb, t.Ub, t.HasUb = c.size.lb, c.size.hasLb, c.size.ub, c.size.hasUb
			if !t.HasLb {
				t.Lb, t.HasLb = 0, true
			}
			t.Ext = c.size.ext || c.ext
		}
		if c.from != "" {
			if t.Kind != per.KindString {
				return fmt.Errorf("FROM on %v", t.Kind)
			}
			rs := []rune(c.from)
			sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
			t.Alphabet = string(rs)
		}
	case per.KindOpenType:
		if c.contained != nil {
			e, err := b.build(sc, c.contained)
			if err != nil {
				return err
			}
			t.Elem = e
		}
	}
	return nil
}
