package sandboxcli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
)

// ctlClient talks to a running sandbox's admin endpoints.
type ctlClient struct {
	base   string // http://127.0.0.1:PORT
	token  string // the admin secret (JITSSH_SANDBOX_ADMIN_TOKEN)
	http   *http.Client
	stdout io.Writer
	json   bool
}

func newCtlCmd(stdout io.Writer) *cobra.Command {
	var envFile, sandboxURL, output string
	c := &ctlClient{stdout: stdout, http: &http.Client{Timeout: 90 * time.Second}}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Change a running sandbox: data-channel faults, API latency and throttling, instance state and SSM agents, SSO sign-ins",
		Long: `ctl talks to a running sandbox's admin endpoints (/_sandbox/…, loopback
only). The sandbox and its admin secret are found from --env-file (the file
"up" wrote), else from the environment (AWS_ENDPOINT_URL and
JITSSH_SANDBOX_ADMIN_TOKEN, set by sourcing that file); --url overrides the
address.

API names are SIGNING-NAME:Operation (ec2:DescribeInstances,
ec2-instance-connect:SendSSHPublicKey, ssm:StartSession, sts:GetCallerIdentity;
IAM Identity Center's sso:GetRoleCredentials and sso-oauth:CreateToken),
SERVICE:* or *. Throttled calls are answered as AWS answers them
(RequestLimitExceeded for EC2, ThrottlingException for SSM and EC2 Instance
Connect, Throttling for STS), so SDKs and the aws CLI retry them; failed
calls (fail) with HTTP 500 and the service's internal-error code
(InternalError for EC2, InternalServerError for SSM, ServiceException for EC2
Instance Connect, InternalFailure for STS), which they retry too.`,
		Example: `  jitssh-sandbox ctl --env-file /tmp/sandbox.env latency ec2:DescribeInstances=200ms 'ssm:*=50ms'
  jitssh-sandbox ctl --env-file /tmp/sandbox.env throttle ssm:StartSession=25% ec2:DescribeInstances=next:3
  jitssh-sandbox ctl --env-file /tmp/sandbox.env throttle --clear
  jitssh-sandbox ctl --env-file /tmp/sandbox.env fail ssm:DescribeInstanceInformation=100%
  jitssh-sandbox ctl --env-file /tmp/sandbox.env faults --drop 0.05 --close-after 5s
  jitssh-sandbox ctl --env-file /tmp/sandbox.env instance web-1 agent-offline
  jitssh-sandbox ctl --env-file /tmp/sandbox.env instance i-0a1b2c3d4e5f00002 stop
  jitssh-sandbox ctl --env-file /tmp/sandbox.env instances --output json`,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "text":
			case "json":
				c.json = true
			default:
				return fmt.Errorf("--output %q: want text or json", output)
			}
			base, token, ca, err := sandboxBase(sandboxURL, envFile)
			if err != nil {
				return err
			}
			c.base, c.token = base, token
			if ca != "" {
				c.http.Transport, err = caTransport(ca)
			}
			return err
		},
	}
	cmd.AddCommand(c.ssoCmd())
	pf := cmd.PersistentFlags()
	pf.StringVar(&envFile, "env-file", "", "the environment file that jitssh-sandbox up --env-file wrote")
	pf.StringVar(&sandboxURL, "url", "", "the sandbox's URL (http://127.0.0.1:PORT, or https:// with up --tls), instead of --env-file")
	pf.StringVarP(&output, "output", "o", "text", "text or json")
	cmd.AddCommand(c.rulesCmd("latency", "API=DURATION", "Show or replace the per-API latency rules"),
		c.rulesCmd("throttle", "API=RULE", "Show or replace the per-API throttle rules (25%, 0.25, 5/s, 30/m, next:N)"),
		c.rulesCmd("fail", "API=RULE", "Show or replace the per-API fail rules: HTTP 500 for the calls they pick (25%, 0.25, 5/s, 30/m, next:N)"),
		c.faultsCmd(), c.instancesCmd(), c.instanceCmd())
	cmd.AddCommand(c.mfaCodeCmd(), c.webIdentityTokenCmd(), c.credentialLifetimeCmd())
	return cmd
}

// sandboxBase finds the sandbox's URL and admin secret, and refuses
// anything but loopback: these endpoints are the sandbox's, and a real
// AWS_ENDPOINT_URL must never receive them (nor the secret).
func sandboxBase(flagURL, envFile string) (base, token, ca string, err error) {
	raw, from := flagURL, "--url"
	token, ca = os.Getenv(sandbox.EnvAdminToken), os.Getenv("AWS_CA_BUNDLE")
	if envFile != "" {
		vars, err := readEnvFile(envFile)
		if err != nil {
			return "", "", "", err
		}
		ca = vars["AWS_CA_BUNDLE"]
		if vars["AWS_ENDPOINT_URL"] == "" || vars[sandbox.EnvAdminToken] == "" {
			return "", "", "", fmt.Errorf("%s sets no AWS_ENDPOINT_URL or %s: is it the environment file of a running jitssh-sandbox?", envFile, sandbox.EnvAdminToken)
		}
		token = vars[sandbox.EnvAdminToken]
		if raw == "" {
			raw, from = vars["AWS_ENDPOINT_URL"], envFile
		}
	}
	if raw == "" {
		raw, from = os.Getenv("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"
	}
	if raw == "" {
		return "", "", "", errors.New("no sandbox given: pass --env-file FILE (from `jitssh-sandbox up --env-file FILE`), or source the env file")
	}
	if token == "" {
		return "", "", "", fmt.Errorf("no admin secret: pass --env-file FILE (from `jitssh-sandbox up --env-file FILE`), or source it to set %s", sandbox.EnvAdminToken)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", "", fmt.Errorf("%s: %q is not a sandbox URL (want http://127.0.0.1:PORT)", from, raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return "", "", "", fmt.Errorf("%s: %s is not on this machine's loopback: refusing to send sandbox admin requests there (a sandbox with --host-name: pass --url https://127.0.0.1:PORT)", from, raw)
	}
	if u.Scheme == "http" {
		ca = ""
	}
	return u.Scheme + "://" + u.Host, token, ca, nil
}

// caTransport trusts only the sandbox's CA certificate in file (the env
// file's AWS_CA_BUNDLE) and never uses a proxy: admin requests go to the
// loopback.
func caTransport(file string) (*http.Transport, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the sandbox's CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate: is it the sandbox's CA (AWS_CA_BUNDLE of its env file)?", file)
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, nil
}

// readEnvFile reads the export lines of an env file written by `up`.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the sandbox environment: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
		}
		vars[k] = v
	}
	return vars, sc.Err()
}

// do sends a request to the sandbox and decodes a JSON answer into out
// (nil: ignore the body).
func (c *ctlClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the sandbox at %s: %w (is `jitssh-sandbox up` running?)", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read the sandbox's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the sandbox refused %s %s: %s", method, path, strings.TrimSpace(string(b)))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the sandbox's answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (c *ctlClient) print(v any, text func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(c.stdout)
	return nil
}

func (c *ctlClient) rulesCmd(name, form, short string) *cobra.Command {
	var clear bool
	cmd := &cobra.Command{
		Use:   name + " [" + form + "...]",
		Short: short,
		Long: short + `. Without arguments it shows them; with arguments the
given rules replace all current ones (validated first: on error nothing
changes); --clear removes them all.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rules map[string]string
			if clear && len(args) > 0 {
				return errors.New("--clear takes no rules")
			}
			if len(args) > 0 || clear {
				set, err := knobs.ParseAssignments(args)
				if err != nil {
					return err
				}
				if err := c.do(cmd.Context(), http.MethodPut, "/_sandbox/"+name, set, &rules); err != nil {
					return err
				}
			} else if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/"+name, nil, &rules); err != nil {
				return err
			}
			return c.print(rules, func(w io.Writer) {
				keys := make([]string, 0, len(rules))
				for k := range rules {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if len(keys) == 0 {
					fmt.Fprintf(w, "no %s rules\n", name)
				}
				for _, k := range keys {
					fmt.Fprintf(w, "%s=%s\n", k, rules[k])
				}
			})
		},
	}
	cmd.Flags().BoolVar(&clear, "clear", false, "remove every rule")
	return cmd
}

func (c *ctlClient) faultsCmd() *cobra.Command {
	var (
		session string
		clear   bool
		f       fault.Config
	)
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Show or set the data-channel faults (for every session, or --session ID)",
		Long: `faults shows the data-channel faults, or sets them when any fault flag or
--clear is given (the flags given replace the whole set).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/_sandbox/faults"
			if session != "" {
				path += "?session=" + url.QueryEscape(session)
			}
			set := clear
			for _, name := range []string{"drop", "duplicate", "reorder", "delay", "close-after"} {
				set = set || cmd.Flags().Changed(name)
			}
			if set {
				if err := c.do(cmd.Context(), http.MethodPut, path, f, nil); err != nil {
					return err
				}
			}
			var got fault.Config
			if err := c.do(cmd.Context(), http.MethodGet, path, nil, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) {
				fmt.Fprintf(w, "drop=%g duplicate=%g reorder=%g delay=%v close_after=%v\n",
					got.Drop, got.Duplicate, got.Reorder, time.Duration(got.Delay), time.Duration(got.CloseAfter))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&session, "session", "", "one session's faults instead of every session's")
	fl.BoolVar(&clear, "clear", false, "no faults")
	fl.Float64Var(&f.Drop, "drop", 0, "probability of dropping each frame (0-0.5)")
	fl.Float64Var(&f.Duplicate, "duplicate", 0, "probability of duplicating each frame")
	fl.Float64Var(&f.Reorder, "reorder", 0, "probability of delivering a frame after the next one")
	fl.DurationVar((*time.Duration)(&f.Delay), "delay", 0, "delay before each frame the agent sends")
	fl.DurationVar((*time.Duration)(&f.CloseAfter), "close-after", 0, "close each data-channel websocket after this long (clients must resume)")
	return cmd
}

// instanceState mirrors sandbox.InstanceState (the CLI reads the wire
// form, not the package).
type instanceState struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	State   string `json:"state"`
	Agent   string `json:"agent"`
	Managed bool   `json:"managed,omitempty"`
}

func printStates(w io.Writer, states []instanceState) {
	for _, s := range states {
		kind := "ec2"
		if s.Managed {
			kind = "managed"
		}
		fmt.Fprintf(w, "%-21s %-12s %-8s agent %-8s %s\n", s.ID, s.Name, s.State, s.Agent, kind)
	}
}

func (c *ctlClient) instancesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "instances",
		Short: "List the instances with their state and SSM agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var states []instanceState
			if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/instances", nil, &states); err != nil {
				return err
			}
			return c.print(states, func(w io.Writer) { printStates(w, states) })
		},
	}
}

func (c *ctlClient) instanceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "instance ID|NAME stop|start|agent-offline|agent-online",
		Short: "Stop or start an instance, or take its SSM agent offline or back online",
		Long: `instance changes one instance at run time. A stopped instance is listed as
stopped, answers no SSH, refuses SSM sessions (TargetNotConnected) and EC2
Instance Connect keys (EC2InstanceStateInvalidException), and its live
sessions end. With its agent offline, SSM reports PingStatus ConnectionLost
and StartSession fails with TargetNotConnected.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var states []instanceState
			if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/instances", nil, &states); err != nil {
				return err
			}
			id, err := pickInstance(states, args[0])
			if err != nil {
				return err
			}
			var path string
			var body any
			switch args[1] {
			case "stop":
				path, body = "/state", map[string]string{"state": "stopped"}
			case "start":
				path, body = "/state", map[string]string{"state": "running"}
			case "agent-offline":
				path, body = "/agent", map[string]bool{"online": false}
			case "agent-online":
				path, body = "/agent", map[string]bool{"online": true}
			default:
				return fmt.Errorf("unknown action %q: want stop, start, agent-offline or agent-online", args[1])
			}
			var got instanceState
			if err := c.do(cmd.Context(), http.MethodPut, "/_sandbox/instances/"+url.PathEscape(id)+path, body, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { printStates(w, []instanceState{got}) })
		},
	}
}

// pickInstance resolves an id or a unique Name.
func pickInstance(states []instanceState, arg string) (string, error) {
	var byName []string
	for _, s := range states {
		if s.ID == arg {
			return s.ID, nil
		}
		if s.Name == arg {
			byName = append(byName, s.ID)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		return "", fmt.Errorf("no instance %q in the sandbox (`jitssh-sandbox ctl instances` lists them)", arg)
	}
	return "", fmt.Errorf("%d instances are named %q (%s): give the id", len(byName), arg, strings.Join(byName, ", "))
}
