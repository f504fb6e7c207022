package apis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// ShellDocument is the document StartSession uses when DocumentName is
// absent; the sandbox records it as the session's DocumentName.
const ShellDocument = "SSM-SessionManagerRunShell"

// Session document names the sandbox knows (ssm-protocol.md §1.6).
const (
	SSHDocument                  = "AWS-StartSSHSession"
	PortForwardingDocument       = "AWS-StartPortForwardingSession"
	PortForwardingToHostDocument = "AWS-StartPortForwardingSessionToRemoteHost"
)

// documentParameterValueMaxSize is how many values a String document
// parameter takes.
const documentParameterValueMaxSize = 1

var (
	portPattern      = regexp.MustCompile(`^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$`)
	localPortPattern = regexp.MustCompile(`^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$`)
	// hostPattern accepts DNS names and IPv4/IPv6 literals; nothing that a
	// shell or URL would treat specially.
	hostPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,253}$`)
)

// docParam is one parameter of a session document.
type docParam struct {
	name     string
	def      string // default when not required
	required bool
	pattern  *regexp.Regexp
}

// sessionDocument returns the parameters of the named session document;
// ok is false for a document the sandbox does not have.
func sessionDocument(name string) (params []docParam, ok bool) {
	switch name {
	case ShellDocument:
		return nil, true
	case SSHDocument:
		return []docParam{{name: "portNumber", def: "22", pattern: portPattern}}, true
	case PortForwardingDocument:
		return []docParam{
			{name: "portNumber", def: "80", pattern: portPattern},
			{name: "localPortNumber", def: "0", pattern: localPortPattern},
		}, true
	case PortForwardingToHostDocument:
		return []docParam{
			{name: "host", required: true, pattern: hostPattern},
			{name: "portNumber", def: "80", pattern: portPattern},
			{name: "localPortNumber", def: "0", pattern: localPortPattern},
		}, true
	}
	return nil, false
}

// documentName resolves a DocumentName (a name or an SSM document ARN) to
// a document name.
func documentName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		if _, name, ok := strings.Cut(s, ":document/"); ok {
			return name
		}
	}
	return s
}

// resolveParameters checks given against the document's parameters and
// returns them with defaults filled in, as AWS does before the agent sees
// them. Errors are InvalidParameters.
func resolveParameters(doc string, params []docParam, given map[string][]string) (map[string][]string, error) {
	known := map[string]bool{}
	for _, p := range params {
		known[p.name] = true
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !known[k] {
			return nil, awsproto.Errorf("InvalidParameters", "Parameter \"%s\" is not defined in document %s.", k, doc)
		}
	}
	out := map[string][]string{}
	for _, p := range params {
		vals, ok := given[p.name]
		if !ok || len(vals) == 0 {
			if p.required {
				return nil, awsproto.Errorf("InvalidParameters", "Document %s requires a value for parameter \"%s\".", doc, p.name)
			}
			out[p.name] = []string{p.def}
			continue
		}
		if len(vals) > documentParameterValueMaxSize {
			return nil, awsproto.Errorf("InvalidParameters", "Parameter \"%s\" of document %s takes one value, got %d.", p.name, doc, len(vals))
		}
		if !p.pattern.MatchString(vals[0]) {
			return nil, &awsproto.Error{Code: "InvalidParameters", Message: fmt.Sprintf(
				"Parameter \"%s\" \"%s\" failed to satisfy constraint: Member must satisfy regular expression pattern: %s", p.name, vals[0], p.pattern)}
		}
		out[p.name] = []string{vals[0]}
	}
	return out, nil
}
