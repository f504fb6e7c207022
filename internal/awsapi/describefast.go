package awsapi

// A faster decoder for ec2:DescribeInstances answers (docs/benchmarks.md,
// "Scopes"): the SDK's generated decoder builds every one of an instance's
// ~100 fields through encoding/xml, about 200 µs of CPU per instance, which
// made `jitssh ls` over 40,000 instances CPU-bound. jitssh reads a dozen
// fields (convertInstance), so this decoder scans the XML once, keeps
// those, and skips the rest. It follows the SDK's rules where it reads
// (element names matched ignoring case and namespace prefix, the last of a
// repeated field wins, repeated lists append, an element's text as is) and
// declines — the SDK's decoder then decodes the same bytes — on anything
// outside a strict, plain subset of XML: CDATA, DOCTYPE, processing
// instructions (but the XML declaration), numeric character references,
// carriage returns, non-ASCII names, a leaf holding elements or comments,
// malformed markup. FuzzDescribeInstancesDecoder holds it to the SDK's.

import (
	"bytes"
	"context"
	"io"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fastDescribeInstances is the per-call option installing the decoder in
// place of the SDK's for one DescribeInstances call; the SDK's stays as
// the fallback (errors, declined documents).
func fastDescribeInstances(o *ec2.Options) {
	o.APIOptions = append(o.APIOptions, func(s *smithymiddleware.Stack) error {
		sdk, ok := s.Deserialize.Get("OperationDeserializer")
		if !ok {
			return nil // a future SDK renamed it: keep its decoder
		}
		_, err := s.Deserialize.Swap("OperationDeserializer", &fastDescribeDeserializer{sdk: sdk})
		return err
	})
}

// fastDescribeDeserializer decodes a successful DescribeInstances answer
// with decodeDescribeInstances, handing everything else to the SDK's.
type fastDescribeDeserializer struct {
	sdk smithymiddleware.DeserializeMiddleware
}

func (*fastDescribeDeserializer) ID() string { return "OperationDeserializer" }

func (m *fastDescribeDeserializer) HandleDeserialize(ctx context.Context, in smithymiddleware.DeserializeInput, next smithymiddleware.DeserializeHandler) (smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return m.sdk.HandleDeserialize(ctx, in, answered{out, md, err})
	}
	body, rerr := readBody(resp)
	resp.Body.Close()
	if rerr == nil {
		if res, ok := decodeDescribeInstances(body); ok {
			out.Result = res
			return out, md, nil
		}
	}
	// The SDK's decoder reads the same bytes (and the read's error).
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
	return m.sdk.HandleDeserialize(ctx, in, answered{out, md, nil})
}

// readBody reads an answer's body whole, in one buffer of its length
// when it is known.
func readBody(resp *smithyhttp.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= 64<<20 {
		b := make([]byte, n)
		m, err := io.ReadFull(resp.Body, b)
		return b[:m], err
	}
	return io.ReadAll(resp.Body)
}

// answered is a handler returning an answer already received.
type answered struct {
	out smithymiddleware.DeserializeOutput
	md  smithymiddleware.Metadata
	err error
}

func (a answered) HandleDeserialize(context.Context, smithymiddleware.DeserializeInput) (smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
	return a.out, a.md, a.err
}

// errReader returns its error, or EOF when it has none.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err == nil {
		return 0, io.EOF
	}
	return 0, r.err
}

// maxFastDepth bounds the nesting the decoder follows (deeper: declined).
const maxFastDepth = 256

// xmlScan is a cursor over an XML document; a false ok anywhere means
// "declined".
type xmlScan struct {
	b     []byte
	i     int
	depth int
}

// decodeDescribeInstances decodes the fields convertInstance reads (and
// each reservation's owner, and the next page's token); false: declined.
func decodeDescribeInstances(b []byte) (*ec2.DescribeInstancesOutput, bool) {
	s := &xmlScan{b: b}
	if !s.prolog() {
		return nil, false
	}
	out := &ec2.DescribeInstancesOutput{}
	name, empty, ok := s.startTag()
	if !ok {
		return nil, false
	}
	ok = empty || s.children(name, func(child []byte, empty bool) bool {
		switch {
		case is(child, "nextToken"):
			v, ok := s.value(child, empty)
			out.NextToken = aws.String(v)
			return ok
		case is(child, "reservationSet"):
			if out.Reservations == nil {
				out.Reservations = []ec2types.Reservation{}
			}
			return s.items(child, empty, func() bool {
				out.Reservations = append(out.Reservations, ec2types.Reservation{})
				return true
			}, func(item []byte, empty bool) bool {
				return s.reservation(&out.Reservations[len(out.Reservations)-1], item, empty)
			})
		}
		return s.skip(child, empty)
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// reservation decodes one reservationSet item.
func (s *xmlScan) reservation(r *ec2types.Reservation, name []byte, empty bool) bool {
	return empty || s.children(name, func(child []byte, empty bool) bool {
		switch {
		case is(child, "ownerId"):
			v, ok := s.value(child, empty)
			r.OwnerId = aws.String(v)
			return ok
		case is(child, "instancesSet"):
			if r.Instances == nil {
				r.Instances = []ec2types.Instance{}
			}
			return s.items(child, empty, func() bool {
				r.Instances = append(r.Instances, ec2types.Instance{})
				return true
			}, func(item []byte, empty bool) bool {
				return s.instance(&r.Instances[len(r.Instances)-1], item, empty)
			})
		}
		return s.skip(child, empty)
	})
}

// instanceStrings are the instance's string fields jitssh reads, by
// element name.
var instanceStrings = []struct {
	name  string
	field func(*ec2types.Instance) **string
}{
	{"instanceId", func(i *ec2types.Instance) **string { return &i.InstanceId }},
	{"privateIpAddress", func(i *ec2types.Instance) **string { return &i.PrivateIpAddress }},
	{"ipAddress", func(i *ec2types.Instance) **string { return &i.PublicIpAddress }},
	{"privateDnsName", func(i *ec2types.Instance) **string { return &i.PrivateDnsName }},
	{"dnsName", func(i *ec2types.Instance) **string { return &i.PublicDnsName }},
	{"vpcId", func(i *ec2types.Instance) **string { return &i.VpcId }},
	{"subnetId", func(i *ec2types.Instance) **string { return &i.SubnetId }},
}

// instance decodes one instancesSet item.
func (s *xmlScan) instance(in *ec2types.Instance, name []byte, empty bool) bool {
	return empty || s.children(name, func(child []byte, empty bool) bool {
		for _, f := range instanceStrings {
			if is(child, f.name) {
				v, ok := s.value(child, empty)
				*f.field(in) = aws.String(v)
				return ok
			}
		}
		switch {
		case is(child, "platform"):
			v, ok := s.value(child, empty)
			in.Platform = ec2types.PlatformValues(v)
			return ok
		case is(child, "instanceState"):
			if in.State == nil {
				in.State = &ec2types.InstanceState{}
			}
			return s.leaves(child, empty, "name", func(v string) { in.State.Name = ec2types.InstanceStateName(v) })
		case is(child, "placement"):
			if in.Placement == nil {
				in.Placement = &ec2types.Placement{}
			}
			return s.leaves(child, empty, "availabilityZone", func(v string) { in.Placement.AvailabilityZone = aws.String(v) })
		case is(child, "tagSet"):
			if in.Tags == nil {
				in.Tags = []ec2types.Tag{}
			}
			return s.items(child, empty, func() bool {
				in.Tags = append(in.Tags, ec2types.Tag{})
				return true
			}, func(item []byte, empty bool) bool {
				t := &in.Tags[len(in.Tags)-1]
				return empty || s.children(item, func(f []byte, empty bool) bool {
					switch {
					case is(f, "key"):
						v, ok := s.value(f, empty)
						t.Key = aws.String(v)
						return ok
					case is(f, "value"):
						v, ok := s.value(f, empty)
						t.Value = aws.String(v)
						return ok
					}
					return s.skip(f, empty)
				})
			})
		}
		return s.skip(child, empty)
	})
}

// leaves decodes a structure of which one string field is read.
func (s *xmlScan) leaves(name []byte, empty bool, field string, set func(string)) bool {
	return empty || s.children(name, func(child []byte, empty bool) bool {
		if is(child, field) {
			v, ok := s.value(child, empty)
			set(v)
			return ok
		}
		return s.skip(child, empty)
	})
}

// items decodes a list: each child named item (ignoring case) is added
// (add) and decoded (each); other children are skipped.
func (s *xmlScan) items(name []byte, empty bool, add func() bool, each func(item []byte, empty bool) bool) bool {
	return empty || s.children(name, func(child []byte, empty bool) bool {
		if is(child, "item") {
			return add() && each(child, empty)
		}
		return s.skip(child, empty)
	})
}

// children calls fn for each child element of the element name just
// opened (fn, given the child's whole name, consumes it, its end tag
// included), up to name's end
// tag; text and comments between children are checked and ignored.
func (s *xmlScan) children(name []byte, fn func(child []byte, empty bool) bool) bool {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxFastDepth {
		return false
	}
	for {
		if !s.text(nil) {
			return false
		}
		switch {
		case s.has("</"):
			return s.endTag(name)
		case s.has("<!--"):
			if !s.comment() {
				return false
			}
		default:
			child, empty, ok := s.startTag()
			if !ok || !fn(child, empty) {
				return false
			}
		}
	}
}

// is reports whether the element name is want, as the SDK matches: its
// local part (the namespace prefix left out), ignoring case (want is
// ASCII).
func is(name []byte, want string) bool {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	if len(name) != len(want) {
		return false
	}
	for i := range len(name) {
		a, b := name[i], want[i]
		if a == b {
			continue
		}
		if a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z' {
			return false
		}
	}
	return true
}

// skip consumes an element not read.
func (s *xmlScan) skip(name []byte, empty bool) bool {
	return empty || s.children(name, func(child []byte, empty bool) bool { return s.skip(child, empty) })
}

// value reads a leaf's text up to its end tag: as the SDK, the text as
// is, "" for an empty element; a child element or comment is declined
// (the SDK fails on it).
func (s *xmlScan) value(name []byte, empty bool) (string, bool) {
	if empty {
		return "", true
	}
	var v []byte
	if !s.text(&v) {
		return "", false
	}
	if !s.has("</") {
		return "", false
	}
	return string(v), s.endTag(name)
}

func (s *xmlScan) has(p string) bool {
	return len(s.b)-s.i >= len(p) && string(s.b[s.i:s.i+len(p)]) == p
}

// prolog skips an XML declaration, white space and comments before the
// root element.
func (s *xmlScan) prolog() bool {
	for _, d := range []string{`<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0"?>`} {
		if s.has(d) {
			s.i += len(d)
			break
		}
	}
	for {
		s.space()
		if !s.has("<!--") {
			return s.i < len(s.b)
		}
		if !s.comment() {
			return false
		}
	}
}

func (s *xmlScan) space() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// comment consumes <!-- … --> ("--" inside is declined, as XML forbids).
func (s *xmlScan) comment() bool {
	s.i += len("<!--")
	end := bytes.Index(s.b[s.i:], []byte("--"))
	if end < 0 || s.i+end+2 >= len(s.b) || s.b[s.i+end+2] != '>' {
		return false
	}
	s.i += end + 3
	return true
}

// name reads an element or attribute name: ASCII letters, digits, _ . -
// and at most one colon inside (others declined).
func (s *xmlScan) name() ([]byte, bool) {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || s.i > start && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			s.i++
			continue
		}
		break
	}
	n := s.b[start:s.i]
	if len(n) == 0 || bytes.Count(n, []byte{':'}) > 1 || n[0] == ':' || n[len(n)-1] == ':' {
		return nil, false
	}
	return n, true
}

// startTag reads <name attr="v" …> or <name …/>.
func (s *xmlScan) startTag() (name []byte, empty, ok bool) {
	if !s.has("<") {
		return nil, false, false
	}
	s.i++
	if name, ok = s.name(); !ok {
		return nil, false, false
	}
	for {
		sp := s.i
		s.space()
		switch {
		case s.has("/>"):
			s.i += 2
			return name, true, true
		case s.has(">"):
			s.i++
			return name, false, true
		}
		if s.i == sp || !s.attribute() {
			return nil, false, false
		}
	}
}

// attribute checks name="value" (or '…'), the value not kept.
func (s *xmlScan) attribute() bool {
	if _, ok := s.name(); !ok {
		return false
	}
	s.space()
	if !s.has("=") {
		return false
	}
	s.i++
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' && s.b[s.i] != '\'' {
		return false
	}
	q := s.b[s.i]
	s.i++
	end := bytes.IndexByte(s.b[s.i:], q)
	if end < 0 {
		return false
	}
	v := s.b[s.i : s.i+end]
	s.i += end + 1
	return bytes.IndexByte(v, '<') < 0 && unescape(v, nil)
}

// endTag reads </name>, which must close name.
func (s *xmlScan) endTag(name []byte) bool {
	s.i += 2
	n, ok := s.name()
	if !ok || !bytes.Equal(n, name) {
		return false
	}
	s.space()
	if !s.has(">") {
		return false
	}
	s.i++
	return true
}

// text consumes the text up to the next '<', checked (characters XML
// allows, the five predefined entities) and, if out is not nil, unescaped
// into *out.
func (s *xmlScan) text(out *[]byte) bool {
	end := bytes.IndexByte(s.b[s.i:], '<')
	if end < 0 {
		return false
	}
	t := s.b[s.i : s.i+end]
	s.i += end
	return unescape(t, out)
}

var entities = map[string]byte{"lt": '<', "gt": '>', "amp": '&', "apos": '\'', "quot": '"'}

// unescape checks t's characters and entities and, if out is not nil,
// writes t unescaped to *out.
func unescape(t []byte, out *[]byte) bool {
	plain := true
	for i := 0; i < len(t); {
		c := t[i]
		switch {
		case c == '&':
			plain = false
			end := bytes.IndexByte(t[i:], ';')
			if end < 0 {
				return false
			}
			if _, ok := entities[string(t[i+1:i+end])]; !ok {
				return false
			}
			i += end + 1
		case c < 0x20 && c != '\t' && c != '\n':
			return false // \r: XML normalizes line ends; control characters
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(t[i:])
			if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
				return false
			}
			i += n
		}
	}
	if out == nil {
		return true
	}
	if plain {
		*out = t
		return true
	}
	v := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		if t[i] != '&' {
			v = append(v, t[i])
			continue
		}
		end := bytes.IndexByte(t[i:], ';')
		v = append(v, entities[string(t[i+1:i+end])])
		i += end
	}
	*out = v
	return true
}
