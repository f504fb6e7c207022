package cwlogs

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxPatternLength is the longest filter pattern CloudWatch Logs accepts.
const MaxPatternLength = 1024

// Pattern is a parsed filter pattern: the subset of CloudWatch Logs'
// syntax the sandbox understands (see ParsePattern).
type Pattern struct {
	// term patterns
	all, any, none []string
	// JSON patterns
	json *jsonExpr
}

// PatternError is a filter pattern the sandbox cannot parse.
type PatternError struct {
	Pattern string
	Why     string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("invalid filter pattern %q: %s", e.Pattern, e.Why)
}

// ParsePattern parses a filter pattern. Understood:
//
//	""                          every event
//	ERROR Exception             events containing every term (case-sensitive)
//	"exact phrase" other        a quoted term may hold spaces
//	?ERROR ?WARN                events containing at least one ?term
//	ERROR -DEBUG                a -term must not occur
//	{ $.kind = "key_served" }   JSON events whose field equals the value
//	{ $.a.b != "x*" && ($.n >= 3 || $.m = 1.5) }
//
// JSON selectors are $.name(.name)* with optional [index]; string values
// may be quoted or bare and end in * as a prefix wildcard; numeric
// comparisons take = != < > <= >=; && binds tighter than ||. Anything
// else (space-delimited [w1, w2] patterns, regular expressions) is an
// error rather than a silently different match.
func ParsePattern(s string) (*Pattern, error) {
	if len(s) > MaxPatternLength {
		return nil, &PatternError{Pattern: s, Why: fmt.Sprintf("longer than %d characters", MaxPatternLength)}
	}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") {
		p := &jsonParser{src: t, pos: 1}
		e, err := p.expr()
		if err == nil {
			p.space()
			if p.pos >= len(p.src) || p.src[p.pos] != '}' {
				err = fmt.Errorf("expected } at offset %d", p.pos)
			} else if strings.TrimSpace(p.src[p.pos+1:]) != "" {
				err = fmt.Errorf("unexpected text after }")
			}
		}
		if err != nil {
			return nil, &PatternError{Pattern: s, Why: err.Error()}
		}
		return &Pattern{json: e}, nil
	}
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "%") {
		return nil, &PatternError{Pattern: s, Why: "space-delimited and regular-expression patterns are not emulated"}
	}
	p := &Pattern{}
	for t != "" {
		var term string
		prefix := byte(0)
		if t[0] == '?' || t[0] == '-' {
			prefix, t = t[0], t[1:]
		}
		if strings.HasPrefix(t, `"`) {
			end := strings.IndexByte(t[1:], '"')
			if end < 0 {
				return nil, &PatternError{Pattern: s, Why: "unterminated quoted term"}
			}
			term, t = t[1:1+end], t[2+end:]
		} else {
			end := strings.IndexAny(t, " \t")
			if end < 0 {
				end = len(t)
			}
			term, t = t[:end], t[end:]
		}
		t = strings.TrimLeft(t, " \t")
		if term == "" {
			return nil, &PatternError{Pattern: s, Why: "empty term"}
		}
		switch prefix {
		case '?':
			p.any = append(p.any, term)
		case '-':
			p.none = append(p.none, term)
		default:
			p.all = append(p.all, term)
		}
	}
	return p, nil
}

// Match reports whether message matches p (nil matches everything).
func (p *Pattern) Match(message string) bool {
	if p == nil {
		return true
	}
	if p.json != nil {
		var v any
		dec := json.NewDecoder(strings.NewReader(message))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return false
		}
		return p.json.eval(v)
	}
	for _, t := range p.all {
		if !strings.Contains(message, t) {
			return false
		}
	}
	for _, t := range p.none {
		if strings.Contains(message, t) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, t := range p.any {
		if strings.Contains(message, t) {
			return true
		}
	}
	return false
}

// jsonExpr is a JSON pattern's expression tree: either a comparison or
// an and/or of two expressions.
type jsonExpr struct {
	op          string // "&&", "||", or a comparison operator
	left, right *jsonExpr
	path        []pathStep
	str         *string // string value (may end in *)
	num         float64
}

type pathStep struct {
	name  string
	index int // -1: a member, not an index
}

func (e *jsonExpr) eval(doc any) bool {
	switch e.op {
	case "&&":
		return e.left.eval(doc) && e.right.eval(doc)
	case "||":
		return e.left.eval(doc) || e.right.eval(doc)
	}
	v, ok := lookupPath(doc, e.path)
	if !ok {
		return false
	}
	if e.str != nil {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return false
		}
		eq := wildcardEqual(*e.str, s)
		if e.op == "!=" {
			return !eq
		}
		return eq
	}
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	f, err := n.Float64()
	if err != nil {
		return false
	}
	switch e.op {
	case "=":
		return f == e.num
	case "!=":
		return f != e.num
	case "<":
		return f < e.num
	case ">":
		return f > e.num
	case "<=":
		return f <= e.num
	case ">=":
		return f >= e.num
	}
	return false
}

func wildcardEqual(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

func lookupPath(v any, path []pathStep) (any, bool) {
	for _, st := range path {
		if st.index >= 0 {
			a, ok := v.([]any)
			if !ok || st.index >= len(a) {
				return nil, false
			}
			v = a[st.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[st.name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// jsonParser parses the inside of { … }.
type jsonParser struct {
	src   string
	pos   int
	depth int
}

func (p *jsonParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *jsonParser) peek(s string) bool {
	p.space()
	return strings.HasPrefix(p.src[p.pos:], s)
}

// expr := and ('||' and)*
func (p *jsonParser) expr() (*jsonExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 20 {
		return nil, fmt.Errorf("nested too deeply")
	}
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek("||") {
		p.pos += 2
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &jsonExpr{op: "||", left: left, right: right}
	}
	return left, nil
}

// and := term ('&&' term)*
func (p *jsonParser) and() (*jsonExpr, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek("&&") {
		p.pos += 2
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = &jsonExpr{op: "&&", left: left, right: right}
	}
	return left, nil
}

// term := '(' expr ')' | selector op value
func (p *jsonParser) term() (*jsonExpr, error) {
	if p.peek("(") {
		p.pos++
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("expected ) at offset %d", p.pos)
		}
		p.pos++
		return e, nil
	}
	path, err := p.selector()
	if err != nil {
		return nil, err
	}
	p.space()
	var op string
	for _, o := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(p.src[p.pos:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected a comparison (= != < > <= >=) at offset %d", p.pos)
	}
	p.pos += len(op)
	e := &jsonExpr{op: op, path: path}
	return e, p.value(e)
}

func (p *jsonParser) selector() ([]pathStep, error) {
	if !p.peek("$") {
		return nil, fmt.Errorf("expected a selector like $.field at offset %d", p.pos)
	}
	p.pos++
	var path []pathStep
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '.':
			p.pos++
			start := p.pos
			for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
				p.pos++
			}
			if p.pos == start {
				return nil, fmt.Errorf("empty field name at offset %d", start)
			}
			path = append(path, pathStep{name: p.src[start:p.pos], index: -1})
		case c == '[':
			end := strings.IndexByte(p.src[p.pos:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated [ at offset %d", p.pos)
			}
			n, err := strconv.Atoi(p.src[p.pos+1 : p.pos+end])
			if err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf("bad array index at offset %d", p.pos)
			}
			path = append(path, pathStep{index: n})
			p.pos += end + 1
		default:
			if len(path) == 0 {
				return nil, fmt.Errorf("expected a selector like $.field at offset %d", p.pos)
			}
			return path, nil
		}
	}
	return path, nil
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *jsonParser) value(e *jsonExpr) error {
	p.space()
	if p.pos >= len(p.src) {
		return fmt.Errorf("expected a value at the end")
	}
	if p.src[p.pos] == '"' {
		end := strings.IndexByte(p.src[p.pos+1:], '"')
		if end < 0 {
			return fmt.Errorf("unterminated string at offset %d", p.pos)
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		if e.op != "=" && e.op != "!=" {
			return fmt.Errorf("strings compare only with = and !=")
		}
		e.str = &s
		return nil
	}
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(" \t)&|}", rune(p.src[p.pos])) {
		p.pos++
	}
	tok := p.src[start:p.pos]
	if tok == "" {
		return fmt.Errorf("expected a value at offset %d", start)
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		e.num = f
		return nil
	}
	if e.op != "=" && e.op != "!=" {
		return fmt.Errorf("%s needs a number, not %q", e.op, tok)
	}
	e.str = &tok
	return nil
}
