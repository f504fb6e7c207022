package archtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// module is the main module's path; packages are named without it below.
const module = "github.com/jitssh/jitssh"

// The groups of packages the rules speak of (docs/architecture.md, "Import
// rules"). A package is in the first group whose test it passes; anything
// else under internal/ is client code, so a new client package is covered
// without touching this file.
const (
	groupSandbox  = "sandbox"      // internal/sandbox/..., internal/sandboxcli
	groupInstance = "instance"     // internal/host/..., hostcli, authkeyscli, imds, varlink
	groupShared   = "shared"       // internal/datachannel/..., eickey, placekey, hostcmd, policy, textwidth, buildinfo, cpuprofile
	groupTestSup  = "test-support" // internal/testtool, internal/testutil/..., internal/archtest
	groupClient   = "client"       // every other package under internal/
	groupCommand  = "command"      // cmd/...
	groupTest     = "test"         // e2e/...: tests only
	groupTooling  = "tooling"      // scripts/..., packaging: the build's own programs
	groupOutside  = "outside"      // not this module: the standard library, third parties
)

// under reports whether p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// local strips the module path; ok is false for packages of other modules.
func local(p string) (string, bool) {
	if p == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, module+"/")
	return rest, ok
}

func groupOf(p string) string {
	l, ok := local(p)
	switch {
	case !ok:
		return groupOutside
	case under(l, "internal/sandbox"), l == "internal/sandboxcli":
		return groupSandbox
	case under(l, "internal/host"), l == "internal/hostcli", l == "internal/authkeyscli", l == "internal/imds", l == "internal/varlink":
		return groupInstance
	case under(l, "internal/datachannel"), l == "internal/eickey", l == "internal/placekey", l == "internal/hostcmd", l == "internal/policy", l == "internal/textwidth", l == "internal/buildinfo", l == "internal/cpuprofile":
		return groupShared
	case l == "internal/testtool", under(l, "internal/testutil"), l == "internal/archtest":
		return groupTestSup
	case under(l, "internal"):
		return groupClient
	case under(l, "cmd"):
		return groupCommand
	case under(l, "e2e"):
		return groupTest
	default:
		return groupTooling
	}
}

func isAWS(p string) bool { return strings.HasPrefix(p, "github.com/aws/") }

func in(p string, locals ...string) bool {
	l, ok := local(p)
	return ok && slices.Contains(locals, l)
}

func inGroup(p string, groups ...string) bool { return slices.Contains(groups, groupOf(p)) }

// pkg is one package of the import graph (non-test files only).
type pkg struct {
	std     bool
	imports []string
}

type graph map[string]*pkg

// rule is one import rule: every package from selects may not import
// (directly, or with linked set anywhere in its dependencies) a package
// forbid reports true for.
type rule struct {
	name   string
	from   func(p string) bool
	linked bool
	forbid func(g graph, from, dep string) bool
}

// thinMains: each binary is a thin main over one internal package.
var thinMains = map[string]string{
	"cmd/jitssh":          "internal/cli",
	"cmd/jitssh-host":     "internal/hostcli",
	"cmd/jitssh-authkeys": "internal/authkeyscli",
	"cmd/jitssh-sandbox":  "internal/sandboxcli",
}

// rules are the import rules of docs/architecture.md, in its order.
var rules = []rule{
	{
		name:   "datachannel imports no AWS SDK and nothing of the client, the instance side or the sandbox",
		from:   func(p string) bool { l, _ := local(p); return under(l, "internal/datachannel") },
		linked: true,
		forbid: func(_ graph, _, d string) bool {
			return isAWS(d) || inGroup(d, groupClient, groupInstance, groupSandbox)
		},
	},
	{
		name: "only awsapi and ssologin import the AWS SDK on the client side (eice: the SDK core's SigV4 signer and credentials only)",
		from: func(p string) bool {
			return groupOf(p) == groupClient && !in(p, "internal/awsapi", "internal/ssologin", "internal/eice")
		},
		forbid: func(_ graph, _, d string) bool { return isAWS(d) },
	},
	{
		name: "eice imports of the AWS SDK only its core's SigV4 signer and credentials types",
		from: func(p string) bool { return in(p, "internal/eice") },
		forbid: func(_ graph, _, d string) bool {
			return isAWS(d) && d != "github.com/aws/aws-sdk-go-v2/aws" && d != "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
		},
	},
	{
		name:   "the sandbox never imports client packages",
		from:   func(p string) bool { return groupOf(p) == groupSandbox },
		linked: true,
		forbid: func(_ graph, _, d string) bool { return groupOf(d) == groupClient },
	},
	{
		name: "of the instance side, the sandbox imports only host/authkeys, host/install and host/userdb",
		from: func(p string) bool { return groupOf(p) == groupSandbox },
		forbid: func(_ graph, _, d string) bool {
			return groupOf(d) == groupInstance && !in(d, "internal/host/authkeys", "internal/host/install", "internal/host/userdb")
		},
	},
	{
		name:   "instance-side packages import nothing of the client or the sandbox",
		from:   func(p string) bool { return groupOf(p) == groupInstance },
		linked: true,
		forbid: func(_ graph, _, d string) bool { return inGroup(d, groupClient, groupSandbox) },
	},
	{
		name:   "client packages import nothing of the instance side or the sandbox",
		from:   func(p string) bool { return groupOf(p) == groupClient },
		linked: true,
		forbid: func(_ graph, _, d string) bool { return inGroup(d, groupInstance, groupSandbox) },
	},
	{
		name:   "keypush, under the use case, links nothing of connect, ssmsession or the command line",
		from:   func(p string) bool { return in(p, "internal/keypush") },
		linked: true,
		forbid: func(_ graph, _, d string) bool {
			return in(d, "internal/connect", "internal/ssmsession", "internal/cli")
		},
	},
	{
		name:   "shared packages import nothing of the client, the instance side or the sandbox",
		from:   func(p string) bool { return groupOf(p) == groupShared },
		linked: true,
		forbid: func(_ graph, _, d string) bool { return inGroup(d, groupClient, groupInstance, groupSandbox) },
	},
	{
		name: "production code never imports the sandbox",
		from: func(p string) bool {
			return inGroup(p, groupClient, groupInstance, groupShared, groupCommand, groupTooling) && !in(p, "cmd/jitssh-sandbox")
		},
		linked: true,
		forbid: func(_ graph, _, d string) bool { return groupOf(d) == groupSandbox },
	},
	{
		name:   "production code never imports test-support packages",
		from:   func(p string) bool { return !inGroup(p, groupTestSup, groupTest, groupOutside) },
		linked: true,
		forbid: func(_ graph, _, d string) bool { return groupOf(d) == groupTestSup },
	},
	{
		name:   "cmd/jitssh-host links neither github.com/aws/* nor the sandbox nor net/http",
		from:   func(p string) bool { return in(p, "cmd/jitssh-host") },
		linked: true,
		// net/http (with crypto/tls and HTTP/2) costs ~5 ms of CPU per
		// login; internal/imds speaks HTTP/1.1 itself.
		forbid: func(_ graph, _, d string) bool { return isAWS(d) || groupOf(d) == groupSandbox || d == "net/http" },
	},
	{
		// jitssh-authkeys, started by sshd at every login, stays as cheap
		// to start as a Go program gets: no network stack, no
		// reflection-based JSON, no fmt, no crypto, no TOML or cobra.
		name:   "cmd/jitssh-authkeys links only os/syscall-level packages: of jitssh only authkeyscli and host/keyproto, no third party, no net, encoding/json, fmt, reflect, log/slog or crypto/*",
		from:   func(p string) bool { return in(p, "cmd/jitssh-authkeys") },
		linked: true,
		forbid: func(g graph, _, d string) bool {
			if l, ok := local(d); ok {
				return l != "internal/authkeyscli" && l != "internal/host/keyproto"
			}
			if info := g[d]; info == nil || !info.std {
				return true
			}
			return d == "net" || d == "encoding/json" || d == "fmt" || d == "reflect" || d == "log/slog" || strings.HasPrefix(d, "crypto/")
		},
	},
	{
		name: "each binary is a thin main over its own internal package (cmd/jitssh → cli, cmd/jitssh-host → hostcli, cmd/jitssh-authkeys → authkeyscli, cmd/jitssh-sandbox → sandboxcli; a new binary goes into thinMains)",
		from: func(p string) bool { return groupOf(p) == groupCommand },
		forbid: func(_ graph, from, d string) bool {
			fl, _ := local(from)
			dl, ok := local(d)
			return ok && dl != thinMains[fl] // a binary missing from thinMains may import nothing of jitssh
		},
	},
	{
		name: "internal/textwidth is the only importer of go-runewidth and its grapheme segmenter",
		from: func(p string) bool { return groupOf(p) != groupOutside && !in(p, "internal/textwidth") },
		forbid: func(_ graph, _, d string) bool {
			return under(d, "github.com/mattn/go-runewidth") || under(d, "github.com/clipperhouse/uax29")
		},
	},
}

// check returns one message per violation of rs in g, each with the
// import chain that breaks the rule.
func check(g graph, rs []rule) []string {
	var names []string
	for p := range g {
		names = append(names, p)
	}
	sort.Strings(names)
	var out []string
	for _, r := range rs {
		for _, p := range names {
			if !r.from(p) {
				continue
			}
			if !r.linked {
				for _, d := range g[p].imports {
					if r.forbid(g, p, d) {
						out = append(out, fmt.Sprintf("%s: %s", r.name, chain([]string{p, d})))
					}
				}
				continue
			}
			for _, c := range forbiddenChains(g, p, func(d string) bool { return r.forbid(g, p, d) }) {
				out = append(out, fmt.Sprintf("%s: %s", r.name, chain(c)))
			}
		}
	}
	return out
}

// forbiddenChains walks p's dependencies breadth first and returns the
// shortest import chain to each forbidden package (not walking past one).
func forbiddenChains(g graph, p string, forbid func(string) bool) [][]string {
	parent := map[string]string{p: ""}
	queue := []string{p}
	var found [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		info := g[cur]
		if info == nil {
			continue
		}
		for _, d := range info.imports {
			if _, seen := parent[d]; seen {
				continue
			}
			parent[d] = cur
			if forbid(d) {
				var c []string
				for x := d; x != ""; x = parent[x] {
					c = append([]string{x}, c...)
				}
				found = append(found, c)
				continue
			}
			queue = append(queue, d)
		}
	}
	return found
}

func chain(c []string) string {
	short := make([]string, len(c))
	for i, p := range c {
		if l, ok := local(p); ok {
			p = l
		}
		short[i] = p
	}
	return strings.Join(short, " → ")
}

// repoRoot is the main module's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

var loadGraph = sync.OnceValues(func() (graph, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("go list -deps %s/...: %v: %s", module, err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list -deps %s/...: %w", module, err)
	}
	g := graph{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("go list: unexpected line %q", line)
		}
		g[f[0]] = &pkg{std: f[1] == "true", imports: strings.Fields(f[2])}
	}
	return g, nil
})

func realGraph(t *testing.T) graph {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	g, err := loadGraph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestImportRules checks every import rule of docs/architecture.md on the
// module as it is.
func TestImportRules(t *testing.T) {
	g := realGraph(t)
	for _, v := range check(g, rules) {
		t.Error(v)
	}
	// Sanity: the graph is the module's, and each rule applies to
	// something (a rule whose packages were all renamed away checks
	// nothing).
	for _, r := range rules {
		n := 0
		for p := range g {
			if r.from(p) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("rule %q applies to no package of the module: update it and docs/architecture.md", r.name)
		}
	}
}

// TestMainModuleWithoutPlugin: only e2e/interop requires AWS's
// session-manager-plugin; the main module never does.
func TestMainModuleWithoutPlugin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "github.com/aws/session-manager-plugin") {
		t.Error("the main module's go.mod names github.com/aws/session-manager-plugin: only e2e/interop may require it")
	}
}

// TestRulesCatchPlantedViolations plants one forbidden import per rule
// into the module's real graph and checks that the rule, and the chain
// that breaks it, are reported.
func TestRulesCatchPlantedViolations(t *testing.T) {
	real := realGraph(t)
	m := func(l string) string { return module + "/" + l }
	plants := []struct {
		from, to  string
		wantRule  string
		wantChain string
	}{
		{m("internal/datachannel/mux"), "github.com/aws/aws-sdk-go-v2/aws", "datachannel imports", "internal/datachannel/mux → github.com/aws/aws-sdk-go-v2/aws"},
		{m("internal/datachannel"), m("internal/target"), "datachannel imports", "internal/datachannel → internal/target"},
		// A client package that does not exist yet is client code.
		{m("internal/transport"), "github.com/aws/aws-sdk-go-v2/service/ssm", "only awsapi and ssologin import", "internal/transport → github.com/aws/aws-sdk-go-v2/service/ssm"},
		{m("internal/connect"), "github.com/aws/aws-sdk-go-v2/service/ssm", "only awsapi and ssologin import", "internal/connect → github.com/aws/aws-sdk-go-v2/service/ssm"},
		{m("internal/eice"), "github.com/aws/aws-sdk-go-v2/service/ec2", "eice imports", "internal/eice → github.com/aws/aws-sdk-go-v2/service/ec2"},
		// Through a shared package: the chain shows the way.
		{m("internal/placekey"), m("internal/target"), "the sandbox never imports client", "internal/sandbox/apis → internal/placekey → internal/target"},
		{m("internal/sandbox/apis"), m("internal/host/jituser"), "of the instance side, the sandbox imports only", "internal/sandbox/apis → internal/host/jituser"},
		{m("internal/transport"), m("internal/connect"), "keypush, under the use case, links nothing", "internal/keypush → internal/transport → internal/connect"},
		{m("internal/host/authkeys"), m("internal/awsapi"), "instance-side packages import nothing", "internal/host/authkeys → internal/awsapi"},
		{m("internal/varlink"), m("internal/sandbox/world"), "instance-side packages import nothing", "internal/varlink → internal/sandbox/world"},
		{m("internal/picker"), m("internal/host/audit"), "client packages import nothing", "internal/picker → internal/host/audit"},
		{m("internal/eickey"), m("internal/openssh/privfile"), "shared packages import nothing", "internal/eickey → internal/openssh/privfile"},
		{m("internal/connect"), m("internal/sandbox/world"), "production code never imports the sandbox", "cmd/jitssh → internal/cli → internal/connect → internal/sandbox/world"},
		{m("internal/openssh/privfile"), m("internal/testtool"), "production code never imports test-support", "internal/openssh/privfile → internal/testtool"},
		{m("internal/sandbox/world"), m("internal/testutil/testkeys"), "production code never imports test-support", "internal/sandbox/world → internal/testutil/testkeys"},
		{m("internal/host/audit"), "net/http", "cmd/jitssh-host links", "cmd/jitssh-host → internal/hostcli → internal/host/audit → net/http"},
		{m("internal/imds"), "github.com/aws/aws-sdk-go-v2/aws", "cmd/jitssh-host links", "→ internal/imds → github.com/aws/aws-sdk-go-v2/aws"},
		{m("internal/host/keyproto"), "fmt", "cmd/jitssh-authkeys links only", "cmd/jitssh-authkeys → internal/authkeyscli → internal/host/keyproto → fmt"},
		{m("internal/authkeyscli"), m("internal/varlink"), "cmd/jitssh-authkeys links only", "cmd/jitssh-authkeys → internal/authkeyscli → internal/varlink"},
		{m("cmd/jitssh"), m("internal/awsapi"), "each binary is a thin main", "cmd/jitssh → internal/awsapi"},
		{m("cmd/jitssh-new"), m("internal/cli"), "each binary is a thin main", "cmd/jitssh-new → internal/cli"},
		{m("internal/picker"), "github.com/mattn/go-runewidth", "internal/textwidth is the only importer", "internal/picker → github.com/mattn/go-runewidth"},
	}
	clean := map[string]bool{}
	for _, v := range check(real, rules) {
		clean[v] = true
	}
	for _, p := range plants {
		g := graph{}
		for k, v := range real {
			g[k] = &pkg{std: v.std, imports: slices.Clone(v.imports)}
		}
		if g[p.from] == nil {
			g[p.from] = &pkg{}
		}
		if g[p.to] == nil {
			g[p.to] = &pkg{std: !strings.Contains(p.to, ".")}
		}
		g[p.from].imports = append(g[p.from].imports, p.to)
		var hit bool
		for _, v := range check(g, rules) {
			if clean[v] {
				continue
			}
			if strings.HasPrefix(v, p.wantRule) && strings.Contains(v, p.wantChain) {
				hit = true
			}
		}
		if !hit {
			t.Errorf("planted %s → %s: no violation of %q with chain %q; got %q", p.from, p.to, p.wantRule, p.wantChain, check(g, rules))
		}
	}
}
