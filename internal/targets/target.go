// Package targets parses the names users give instances and resolves them
// to exactly one instance, never choosing silently between several.
//
// # Target forms
//
//	i-0123456789abcdef0                        instance id
//	mi-0123456789abcdef0                       SSM managed (hybrid) instance id
//	web-1                                      Name tag
//	tag:Team=payments                          any tag (key=value)
//	10.0.1.11, 198.51.100.11                   private or public IPv4 address
//	ip-10-0-1-11.ec2.internal                  private DNS name
//	ec2-198-51-100-11.compute-1.amazonaws.com  public DNS name
//
// Each may be prefixed with "user@" and suffixed with ".REGION" or
// ".REGION.ACCOUNT", e.g. alice@web-1.eu-west-1,
// i-0123456789abcdef0.us-west-2 or web-1.eu-west-1.123456789012 (the
// account a scope searches, docs/scopes.md).
//
// # The region suffix
//
// A target's last dot-separated label is taken as a region when it has the
// shape of an AWS region code: two letters, then one or more dash-separated
// words, then a dash and a number ("us-east-1", "eu-central-2",
// "us-gov-west-1", "ap-southeast-4"). No DNS top-level domain has that shape
// (TLDs contain no digits or dashes, apart from the "xn--" IDN prefix), so
// a DNS name is never mistaken for a region suffix, and EC2's own DNS names
// put the region in the middle, never last. A Name tag that itself ends in a
// region-shaped label must be written as tag:Name=VALUE: tag targets take
// their value verbatim and have no region suffix (use --region). EC2 DNS names
// imply their region (ip-….ec2.internal and ec2-….compute-1.amazonaws.com
// are us-east-1; ….REGION.compute.internal and ….REGION.compute.amazonaws.com
// name theirs); an explicit suffix that disagrees is an error.
//
// # The account suffix
//
// After a region suffix, a last label of exactly 12 decimal digits is an
// AWS account id: NAME.REGION.ACCOUNT pins both. An account needs its
// region before it, so that a Name tag ending in a 12-digit label (a
// timestamp, say) stays a name, and a pinned target is one lookup. No DNS
// name ends in an all-digit label (top-level domains are never numeric,
// RFC 3696 section 2), and IPv4 octets have at most three digits, so
// neither DNS names nor addresses change meaning; a Name tag ending in
// ".REGION.ACCOUNT" must be written as tag:Name=VALUE, like one ending in
// a region. Account aliases are not accepted there: they have the shape
// of DNS labels ("prod" is a top-level domain).
package targets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/jitssh/jitssh/internal/textwidth"
)

// Kind says how a Spec names its instance.
type Kind int

// Kinds of target.
const (
	KindInstanceID Kind = iota // i-0123456789abcdef0
	KindManagedID              // mi-0123456789abcdef0
	KindName                   // the Name tag
	KindTag                    // tag:Key=Value
	KindIP                     // private or public IPv4 address
	KindPrivateDNS             // ip-10-0-1-11.ec2.internal
	KindPublicDNS              // ec2-198-51-100-11.compute-1.amazonaws.com
)

var kindNames = map[Kind]string{
	KindInstanceID: "instance id", KindManagedID: "managed instance id", KindName: "Name tag",
	KindTag: "tag", KindIP: "IP address", KindPrivateDNS: "private DNS name", KindPublicDNS: "public DNS name",
}

func (k Kind) String() string { return kindNames[k] }

// Spec is a parsed target.
type Spec struct {
	User   string // from user@target; empty if not given
	Kind   Kind
	Value  string // the id, name, tag value, address or DNS name
	TagKey string // KindTag only
	Region string // from the .REGION suffix or implied by an EC2 DNS name; empty if neither
	// Account is the 12-digit account id of a .REGION.ACCOUNT suffix;
	// empty if none.
	Account string
}

// String returns the target as a user would type it (without user@).
func (s Spec) String() string {
	v := s.Value
	if s.Kind == KindTag {
		v = "tag:" + s.TagKey + "=" + s.Value
	}
	return v
}

var (
	instanceIDRe = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	managedIDRe  = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)
	// nameRe accepts what people put in Name tags that can also be typed
	// as an ssh host: no spaces, no shell or ssh_config metacharacters.
	// Lengths are checked apart (bounded): a counted repetition such as
	// {0,254} compiles to hundreds of instructions at every process start.
	nameRe = bounded{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+=/-]*$`), 1, 255}
	userRe = bounded{regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`), 1, 32}
	// RegionRe is the shape of an AWS region code.
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// tagRe is the AWS tag character set (letters, digits, spaces and
	// _ . : / = + - @), restricted to ASCII.
	tagKeyRe   = bounded{regexp.MustCompile(`^[A-Za-z0-9 _.:/+@-][A-Za-z0-9 _.:/=+@-]*$`), 1, 128}
	tagValueRe = bounded{regexp.MustCompile(`^[A-Za-z0-9 _.:/=+@*?-]*$`), 1, 256}
	privDNSRe  = regexp.MustCompile(`^(ip-[0-9]{1,3}(-[0-9]{1,3}){3}|i-[0-9a-f]{17})\.(ec2\.internal|([a-z0-9-]+)\.compute\.internal)$`)
	pubDNSRe   = regexp.MustCompile(`^ec2-[0-9]{1,3}(-[0-9]{1,3}){3}\.(compute-1\.amazonaws\.com|([a-z0-9-]+)\.compute\.amazonaws\.com)$`)
)

// bounded is a regexp over ASCII classes with its length (in bytes, which
// are characters for every string it matches) checked apart.
type bounded struct {
	re       *regexp.Regexp
	min, max int
}

func (b bounded) MatchString(s string) bool {
	return len(s) >= b.min && len(s) <= b.max && b.re.MatchString(s)
}

// ValidRegion reports whether r has the shape of an AWS region code.
func ValidRegion(r string) bool { return regionRe.MatchString(r) }

const forms = "an instance id (i-…), a managed instance id (mi-…), a Name tag, tag:KEY=VALUE, an IPv4 address or an EC2 DNS name, optionally as USER@TARGET and with a .REGION or .REGION.ACCOUNT suffix"

// ValidAccount reports whether a is an AWS account id (12 decimal digits).
func ValidAccount(a string) bool {
	if len(a) != 12 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

// cutAccount splits s into its target and a .REGION.ACCOUNT suffix, if
// it has one.
func cutAccount(s string) (rest, region, account string, ok bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || !ValidAccount(s[dot+1:]) {
		return s, "", "", false
	}
	head := s[:dot]
	rdot := strings.LastIndexByte(head, '.')
	if rdot <= 0 || !regionRe.MatchString(head[rdot+1:]) {
		return s, "", "", false
	}
	return head[:rdot], head[rdot+1:], s[dot+1:], true
}

// Parse parses [user@]target[.region].
func Parse(s string) (Spec, error) {
	var sp Spec
	if s == "" {
		return sp, errors.New("empty target: give " + forms)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return sp, fmt.Errorf("target %q contains a control or non-ASCII character", s)
		}
	}
	orig := s
	// user@: before the first '@', unless the target is a tag (whose
	// value may contain '@').
	if !strings.HasPrefix(s, "tag:") {
		if at := strings.IndexByte(s, '@'); at >= 0 {
			sp.User, s = s[:at], s[at+1:]
			if err := ValidUser(sp.User); err != nil {
				return Spec{}, err
			}
		}
	}
	if rest, region, account, ok := cutAccount(s); ok && !strings.HasPrefix(s, "tag:") {
		sp.Region, sp.Account, s = region, account, rest
	} else if dot := strings.LastIndexByte(s, '.'); dot > 0 && !strings.HasPrefix(s, "tag:") && regionRe.MatchString(s[dot+1:]) {
		sp.Region, s = s[dot+1:], s[:dot]
	}
	if s == "" {
		return Spec{}, fmt.Errorf("target %q names no instance: give %s", orig, forms)
	}
	sp.Value = s
	switch {
	case instanceIDRe.MatchString(s):
		sp.Kind = KindInstanceID
	case managedIDRe.MatchString(s):
		sp.Kind = KindManagedID
	case strings.HasPrefix(s, "i-") && len(s) <= 19 && !strings.Contains(s, "."):
		return Spec{}, fmt.Errorf("target %q looks like an instance id but is not one: ids are i- followed by 8 or 17 lower-case hex digits", s)
	case strings.HasPrefix(s, "mi-") && len(s) <= 20 && !strings.Contains(s, "."):
		return Spec{}, fmt.Errorf("target %q looks like a managed instance id but is not one: ids are mi- followed by 17 lower-case hex digits", s)
	case strings.HasPrefix(s, "tag:"):
		kv := strings.TrimPrefix(s, "tag:")
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return Spec{}, fmt.Errorf("target %q: write tags as tag:KEY=VALUE", s)
		}
		if !tagKeyRe.MatchString(k) || strings.HasPrefix(k, "aws:") {
			return Spec{}, fmt.Errorf("target %q: invalid tag key %q (letters, digits, spaces and _ . : / + - @, at most 128)", s, k)
		}
		if !tagValueRe.MatchString(v) {
			return Spec{}, fmt.Errorf("target %q: invalid tag value %q (letters, digits, spaces and _ . : / = + - @, at most 256; * and ? match like EC2 filters)", s, v)
		}
		sp.Kind, sp.TagKey, sp.Value = KindTag, k, v
	case isIP(s):
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || a.String() != s {
			return Spec{}, fmt.Errorf("target %q is not an IPv4 address in dotted-quad form (IPv6 targets are not supported yet)", s)
		}
		sp.Kind = KindIP
	case privDNSRe.MatchString(s):
		sp.Kind = KindPrivateDNS
		if err := impliedRegion(&sp, privDNSRe.FindStringSubmatch(s)[4], "ec2.internal"); err != nil {
			return Spec{}, err
		}
	case pubDNSRe.MatchString(s):
		sp.Kind = KindPublicDNS
		if err := impliedRegion(&sp, pubDNSRe.FindStringSubmatch(s)[3], "compute-1.amazonaws.com"); err != nil {
			return Spec{}, err
		}
	case nameRe.MatchString(s):
		sp.Kind = KindName
	default:
		return Spec{}, fmt.Errorf("target %q is not %s (Name tags with spaces or other characters: use tag:Name=VALUE)", orig, forms)
	}
	return sp, nil
}

// isIP reports whether s looks like an IP address (digits and dots, or
// contains a colon and only hex digits and colons).
func isIP(s string) bool {
	if strings.Trim(s, "0123456789.") == "" && strings.Contains(s, ".") {
		return true
	}
	return strings.Contains(s, ":") && strings.Trim(s, "0123456789abcdefABCDEF:.") == ""
}

// impliedRegion sets the region an EC2 DNS name implies (sub, or
// us-east-1 when sub is empty, for the us-east-1 legacy names), refusing a
// suffix that disagrees.
func impliedRegion(sp *Spec, sub, legacy string) error {
	r := sub
	if r == "" {
		r = "us-east-1"
	}
	if !regionRe.MatchString(r) {
		return fmt.Errorf("DNS name %q: %q is not a region", sp.Value, r)
	}
	if sp.Region != "" && sp.Region != r {
		return fmt.Errorf("target %s.%s: the DNS name is in %s, not %s", sp.Value, sp.Region, r, sp.Region)
	}
	sp.Region = r
	return nil
}

// ValidUser checks an OS user name against a conservative POSIX pattern.
func ValidUser(u string) error {
	if !userRe.MatchString(u) {
		return fmt.Errorf("invalid user name %q: use 1-32 characters, lower-case letters, digits, '_', '.', '-', starting with a letter or '_'", u)
	}
	return nil
}

// Instance is a candidate or resolved target.
type Instance struct {
	ID        string
	Name      string
	State     string // EC2 state; "running" for an online managed instance
	AZ        string
	PrivateIP string
	PublicIP  string
	VpcID     string
	SubnetID  string
	Platform  string
	SSM       string // SSM agent ping status (Online, ConnectionLost, ...); "" if unknown
	Managed   bool   // an SSM managed (mi-) instance, not EC2
	// Account is the instance's account (its reservation's owner), ""
	// if not known; Region is set by a search across a scope (where it
	// was found), "" otherwise.
	Account, Region string
}

// SSMUnknown is the SSM column of an instance whose agent status SSM
// could not be asked about (as opposed to "-", not registered).
const SSMUnknown = "unknown"

// Lookup answers the queries Resolve makes.
type Lookup interface {
	// Find returns the EC2 instances with the given ids (none: any id)
	// matching every filter (EC2 DescribeInstances filter names and
	// values). An unknown id is no match, not an error.
	Find(ctx context.Context, ids []string, filters map[string][]string) ([]Instance, error)
	// Managed returns the SSM managed instance with id, if registered.
	Managed(ctx context.Context, id string) ([]Instance, error)
	// SSMStatus returns the SSM agent ping status of the given instances.
	SSMStatus(ctx context.Context, ids []string) (map[string]string, error)
}

// Chooser lets a person pick one of several matches; it returns an error
// if they decline.
type Chooser func(ctx context.Context, sp Spec, matches []Instance) (Instance, error)

// live are the states a target can be found in (terminated instances and
// those shutting down are never targets).
var live = []string{"pending", "running", "stopping", "stopped"}

// Candidates returns every instance sp matches.
func Candidates(ctx context.Context, l Lookup, sp Spec) ([]Instance, error) {
	state := map[string][]string{"instance-state-name": live}
	with := func(k, v string) map[string][]string {
		return map[string][]string{k: {v}, "instance-state-name": live}
	}
	switch sp.Kind {
	case KindInstanceID:
		return l.Find(ctx, []string{sp.Value}, nil)
	case KindManagedID:
		return l.Managed(ctx, sp.Value)
	case KindName:
		return l.Find(ctx, nil, with("tag:Name", sp.Value))
	case KindTag:
		return l.Find(ctx, nil, with("tag:"+sp.TagKey, sp.Value))
	case KindPrivateDNS:
		return l.Find(ctx, nil, with("private-dns-name", sp.Value))
	case KindPublicDNS:
		return l.Find(ctx, nil, with("dns-name", sp.Value))
	case KindIP:
		// Private or public: both queries at once.
		var (
			wg         sync.WaitGroup
			res        [2][]Instance
			errs       [2]error
			attributes = [2]string{"private-ip-address", "ip-address"}
		)
		for i, a := range attributes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = l.Find(ctx, nil, map[string][]string{a: {sp.Value}, "instance-state-name": state["instance-state-name"]})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var out []Instance
		for _, in := range append(res[0], res[1]...) {
			if !seen[in.ID] {
				seen[in.ID] = true
				out = append(out, in)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown target kind %d", sp.Kind)
}

// Resolve returns the one instance sp names. No match is an error saying
// what was searched. Several matches go to choose (a person picking on a
// terminal) or, if choose is nil, are an error listing them. A match that
// is not running is an error.
func Resolve(ctx context.Context, l Lookup, sp Spec, choose Chooser) (Instance, error) {
	found, err := Candidates(ctx, l, sp)
	if err != nil {
		return Instance{}, fmt.Errorf("resolve %s: %w", sp, err)
	}
	var in Instance
	switch len(found) {
	case 0:
		return Instance{}, &NotFoundError{Spec: sp}
	case 1:
		in = found[0]
	default:
		sort.Slice(found, func(a, b int) bool { return found[a].ID < found[b].ID })
		st, err := l.SSMStatus(ctx, ids(found))
		for i := range found {
			if s, ok := st[found[i].ID]; ok {
				found[i].SSM = s
			} else if err != nil && found[i].SSM == "" {
				found[i].SSM = SSMUnknown
			}
		}
		if choose == nil {
			return Instance{}, &AmbiguousError{Spec: sp, Matches: found}
		}
		in, err = choose(ctx, sp, found)
		if err != nil {
			return Instance{}, err
		}
	}
	if in.State != "" && in.State != "running" {
		return Instance{}, fmt.Errorf("instance %s (%s) is %s, not running: start it first", in.ID, in.Name, in.State)
	}
	return in, nil
}

func ids(in []Instance) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.ID
	}
	return out
}

// AmbiguousError is several instances matching a target where nobody can
// pick one (no terminal).
type AmbiguousError struct {
	Spec    Spec
	Matches []Instance
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d instances match %s %q; name one by id (or run jitssh on a terminal to pick one):\n", len(e.Matches), e.Spec.Kind, e.Spec.String())
	b.WriteString(Table(e.Matches, "  "))
	return strings.TrimRight(b.String(), "\n")
}

// Columns are the headings of Row.
var Columns = []string{"STATE", "NAME", "ID", "AZ", "PRIVATE-IP", "SSM"}

// Row is an instance as the cells of a table or picker line.
func Row(in Instance) []string {
	ssm := in.SSM
	if ssm == "" {
		ssm = "-"
	}
	return []string{dash(in.State), dash(in.Name), in.ID, dash(in.AZ), dash(in.PrivateIP), ssm}
}

// Keys are what a person types to pick an instance in the picker, most
// important first: its name, its id, its private and public addresses,
// then its state.
func Keys(in Instance) []string {
	return []string{in.Name, in.ID, in.PrivateIP, in.PublicIP, in.State}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Table formats instances as aligned columns, each line prefixed.
func Table(in []Instance, prefix string) string {
	header, rows := Rows(in)
	return FormatTable(append([][]string{header}, rows...), prefix)
}

// Rows are instances as table cells under their header: Columns and Row,
// plus ACCOUNT and REGION when any was found by a search across a scope.
func Rows(in []Instance) (header []string, rows [][]string) {
	where := false
	for _, x := range in {
		where = where || x.Region != ""
	}
	header = Columns
	if where {
		header = append(append([]string{}, Columns...), "ACCOUNT", "REGION")
	}
	for _, x := range in {
		r := Row(x)
		if where {
			r = append(r, dash(x.Account), dash(x.Region))
		}
		rows = append(rows, r)
	}
	return header, rows
}

// FormatTable aligns rows of cells into columns separated by two spaces,
// padding by display width (a wide character takes two columns, a
// combining mark none). Control characters in a cell (from a tag value)
// are shown as '?', so that a cell can neither move the cursor nor change
// the terminal, nor misalign its row.
func FormatTable(rows [][]string, prefix string) string {
	var width []int
	clean := make([][]string, len(rows))
	for j, r := range rows {
		clean[j] = make([]string, len(r))
		for i, c := range r {
			c = Printable(c)
			clean[j][i] = c
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], textwidth.Width(c))
		}
	}
	var b strings.Builder
	for _, r := range clean {
		b.WriteString(prefix)
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(textwidth.Pad(c, width[i]))
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Printable replaces control characters (C0, DEL, C1) in s with '?' and
// invalid UTF-8 with U+FFFD.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// NotFoundError is a target that matches no instance (in Spec.Region, or
// the caller's region). Its message names no commands or flags; the
// command line adds what to try.
type NotFoundError struct {
	Spec Spec
	// Where, if set, says what was searched instead of "this account and
	// region" (a scope: "4 accounts, 3 regions").
	Where string
}

// ByID reports whether the target was an instance id (EC2's or a managed
// instance's), rather than a name, tag or address.
func (e *NotFoundError) ByID() bool {
	return e.Spec.Kind == KindInstanceID || e.Spec.Kind == KindManagedID
}

func (e *NotFoundError) Error() string {
	sp := e.Spec
	where := "in this account and region"
	switch {
	case e.Where != "":
		where = "in " + e.Where
	case sp.Account != "":
		where = "in " + sp.Region + " of account " + sp.Account
	case sp.Region != "":
		where = "in " + sp.Region + " (this account)"
	}
	if e.ByID() {
		return fmt.Sprintf("%s %s not found %s", sp.Kind, sp.Value, where)
	}
	return fmt.Sprintf("no instance with %s %q %s (terminated instances are not targets)", sp.Kind, sp.String(), where)
}
