package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// listed is one row of `jitssh ls`.
type listed struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	State      string   `json:"state"`
	AZ         string   `json:"availability_zone,omitempty"`
	PrivateIP  string   `json:"private_ip,omitempty"`
	PublicIP   string   `json:"public_ip,omitempty"`
	VpcID      string   `json:"vpc_id,omitempty"`
	Platform   string   `json:"platform"`
	SSM        string   `json:"ssm_agent"`
	Managed    bool     `json:"managed_instance"`
	Transports []string `json:"transports"`
	// Where the instance lives, for ls over a scope (ls_scope.go):
	// AccountAlias is the account's IAM alias, when it has one and ls
	// could ask (ls_alias.go).
	Account      string `json:"account,omitempty"`
	AccountAlias string `json:"account_alias,omitempty"`
	Profile      string `json:"profile,omitempty"`
	Region       string `json:"region,omitempty"`
}

// lsConcurrency bounds the SSM calls in flight.
const lsConcurrency = 8

// lsOptions is `jitssh ls` after flag parsing.
type lsOptions struct {
	IO IOStreams
	// API builds the AWS clients (for the default region).
	API    func(ctx context.Context) (lister, error)
	Filter string // "" lists everything
	Output string // table or json
	All    bool   // include terminated instances
	// Scope, if set, returns the scope to list (nil: none, the one
	// location of API).
	Scope func(ctx context.Context) (*scopeSearch, error)
}

func newLsCmd(g *globals, runF func(context.Context, *lsOptions) error) *cobra.Command {
	o := &lsOptions{IO: g.io, API: func(ctx context.Context) (lister, error) { return g.api(ctx, "") }, Scope: func(ctx context.Context) (*scopeSearch, error) {
		req, err := g.scopeRequested()
		if err != nil || req == nil {
			return nil, err
		}
		return g.expand(ctx, req)
	}}
	cmd := &cobra.Command{
		Use:   "ls [FILTER]",
		Short: "List instances: state, name, id, addresses, platform, SSM agent and how jitssh can reach each",
		Long: `ls lists the EC2 instances of the account and region (and SSM managed
instances), with their SSM agent status and the transports that can reach
each: "ssm" when the agent is online, "eice" when an EC2 Instance Connect
Endpoint serves its VPC, "direct" when the instance has a public address
(the first one listed is what --transport auto uses). "bastion" is not
listed: any instance a jump host can route to is reachable with --via.

Over a scope (--scope NAME or all, --profile 'GLOB', --region all; see
docs/scopes.md) ls asks every account and region at once, prints each
location's rows as they arrive with ACCOUNT (the account's IAM alias,
else its id), PROFILE and REGION columns (a progress line on stderr when
it is a terminal), remembers where each instance lives for the next
connection, and lists at the end the locations it could not list, with
the fix. JSON rows have account (the id), account_alias, profile and
region.

FILTER is tag:KEY=VALUE (filtered by EC2, and by SSM for managed
instances; * and ? are EC2 wildcards, and a VALUE of * means any value) or
text matched, ignoring case, against each instance's name, id, addresses
and DNS names. Terminated instances are left out unless --all.

The SSM column (ssm_agent in JSON) is the agent's ping status (Online,
ConnectionLost, ...), "-" when the instance is not registered with SSM,
and "unknown" when SSM could not be asked. A source that fails (EC2, SSM,
the endpoints; not allowed, or failing) is a warning on stderr naming it
and why, and the rest is listed.`,
		Example: `  jitssh ls
  jitssh ls web
  jitssh ls tag:Team=payments --region eu-west-1
  jitssh ls --scope all
  jitssh ls --profile 'prod-*' --region all
  jitssh ls --output json | jq -r '.[] | select(.ssm_agent=="Online") | .id'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Filter = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLs(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table or json")
	cmd.Flags().BoolVar(&o.All, "all", false, "include terminated instances")
	return cmd
}

// runLs lists the instances and prints them, as a table or JSON.
func runLs(ctx context.Context, o *lsOptions) error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("--output %q: use table or json", o.Output)
	}
	if o.Scope != nil {
		s, err := o.Scope(ctx)
		if err != nil {
			return err
		}
		if s != nil {
			return runLsScope(ctx, o, s)
		}
	}
	api, err := o.API(ctx)
	if err != nil {
		return err
	}
	rows, warnings, err := list(ctx, api, o.Filter, o.All)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		warnTo(o.IO.Err, w)
	}
	if o.Output == "json" {
		if rows == nil {
			rows = []listed{} // [], not null: `jq '.[]'` works on no match
		}
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	table := [][]string{{"STATE", "NAME", "ID", "PRIVATE-IP", "PUBLIC-IP", "PLATFORM", "SSM", "TRANSPORTS"}}
	for _, r := range rows {
		table = append(table, []string{r.State, dash(r.Name), r.ID, dash(r.PrivateIP), dash(r.PublicIP), r.Platform, r.SSM, dash(strings.Join(r.Transports, ","))})
	}
	_, err = fmt.Fprint(o.IO.Out, targets.FormatTable(table, ""))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lister is what list needs from AWS.
type lister interface {
	DescribeInstancesPages(ctx context.Context, ids []string, filters map[string][]string, fn func([]awsapi.Instance) error) error
	InstanceInformation(ctx context.Context, filters map[string][]string) ([]awsapi.ManagedInstance, error)
	InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error)
}

// list runs the EC2 listing and, as each page arrives, SSM lookups for
// that page's instances (50 per call, up to lsConcurrency at once), plus
// a listing of SSM managed instances and of the EC2 Instance Connect
// Endpoints, all concurrently. Each source degrades on its own: a failed
// source is a warning saying what is missing and why (the SSM column of
// instances SSM could not be asked about is "unknown"), and only EC2 and
// SSM's managed instances both failing is an error.
func list(ctx context.Context, api lister, filter string, all bool) (rows []listed, warnings []error, _ error) {
	q, err := lsQueryFor(filter, all)
	if err != nil {
		return nil, nil, err
	}
	s := &lsSources{api: api, q: q, ssm: map[string]awsapi.ManagedInstance{}, unknown: map[string]bool{}, sem: make(chan struct{}, lsConcurrency)}
	s.gather(ctx)
	warnings, err = s.warnings()
	if err != nil {
		return nil, nil, err
	}
	return s.assemble(), warnings, nil
}

// lsQuery is what list asks the sources for.
type lsQuery struct {
	filters          map[string][]string // EC2's
	text             string              // lower case, matched against names, ids, addresses
	tagKey, tagValue string              // tag:KEY=VALUE ("" if none)
}

// lsQueryFor turns ls's FILTER and --all into a query.
func lsQueryFor(filter string, all bool) (lsQuery, error) {
	q := lsQuery{filters: map[string][]string{}, text: strings.ToLower(filter)}
	if !all {
		q.filters["instance-state-name"] = []string{"pending", "running", "stopping", "stopped", "shutting-down"}
	}
	if strings.HasPrefix(filter, "tag:") {
		sp, err := targets.Parse(filter)
		if err != nil {
			return lsQuery{}, err
		}
		q.tagKey, q.tagValue = "tag:"+sp.TagKey, sp.Value
		q.filters[q.tagKey] = []string{q.tagValue}
		q.text = ""
	}
	return q, nil
}

// lsSources is what each of list's sources returned.
type lsSources struct {
	api lister
	q   lsQuery

	wg  sync.WaitGroup
	sem chan struct{} // bounds the SSM lookups in flight
	mu  sync.Mutex    // guards rows, ssm, unknown, ssmErr

	rows    []listed
	ssm     map[string]awsapi.ManagedInstance
	unknown map[string]bool // instances SSM could not be asked about
	ssmErr  error

	managed    []awsapi.ManagedInstance
	managedErr error
	endpoints  []awsapi.InstanceConnectEndpoint
	epErr      error
	ec2Err     error
}

// gather asks every source, concurrently, and waits for all.
func (s *lsSources) gather(ctx context.Context) {
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.endpoints, s.epErr = s.api.InstanceConnectEndpoints(ctx, map[string][]string{"state": eice.UsableStates})
	}()
	go func() { // hybrid (mi-) instances are not in EC2
		defer s.wg.Done()
		s.managed, s.managedErr = s.managedInstances(ctx)
	}()
	s.ec2Err = s.api.DescribeInstancesPages(ctx, nil, s.q.filters, func(page []awsapi.Instance) error {
		s.ec2Page(ctx, page)
		return nil
	})
	s.wg.Wait()
}

// managedInstances lists SSM's managed instances (with the tag, if any).
func (s *lsSources) managedInstances(ctx context.Context) ([]awsapi.ManagedInstance, error) {
	if s.q.tagKey != "" {
		return instances.ManagedWithTag(ctx, s.api, s.q.tagKey, []string{s.q.tagValue})
	}
	m, err := s.api.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"ResourceType": {"ManagedInstance"}})
	if err != nil {
		return nil, &instances.SourceError{Source: instances.ManagedSource, Err: err}
	}
	return m, nil
}

// ec2Page adds a page of EC2's listing and starts the SSM lookups for it.
func (s *lsSources) ec2Page(ctx context.Context, page []awsapi.Instance) {
	var ids []string
	s.mu.Lock()
	for _, in := range page {
		if s.q.text != "" && !matchText(s.q.text, in.ID, in.Name, in.PrivateIP, in.PublicIP, in.PrivateDNS, in.PublicDNS) {
			continue
		}
		t := instances.TargetOf(in)
		s.rows = append(s.rows, listed{ID: t.ID, Name: t.Name, State: t.State, AZ: t.AZ, PrivateIP: t.PrivateIP, PublicIP: t.PublicIP, VpcID: t.VpcID, Platform: t.Platform, Account: t.Account})
		ids = append(ids, in.ID)
	}
	s.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), awsapi.MaxInstanceInformationFilterValues)
		s.wg.Add(1)
		go s.ssmLookup(ctx, ids[:n])
		ids = ids[n:]
	}
}

// ssmLookup asks SSM about the agents of ids.
func (s *lsSources) ssmLookup(ctx context.Context, ids []string) {
	defer s.wg.Done()
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	found, err := s.api.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"InstanceIds": ids})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		for _, id := range ids {
			s.unknown[id] = true
		}
		if s.ssmErr == nil {
			s.ssmErr = err
		}
		return
	}
	for _, m := range found {
		s.ssm[m.ID] = m
	}
}

// warnings says which sources failed; EC2 and SSM's managed instances
// both failing is an error.
func (s *lsSources) warnings() ([]error, error) {
	var warnings []error
	if s.ec2Err != nil {
		if s.managedErr != nil {
			return nil, fmt.Errorf("%w; %w", s.ec2Err, s.managedErr) // one line: ls over a scope lists it under its location
		}
		warnings = append(warnings, &instances.SourceError{Source: "EC2 instances", Err: s.ec2Err})
	}
	if s.managedErr != nil {
		warnings = append(warnings, s.managedErr)
	}
	if s.ssmErr != nil {
		warnings = append(warnings, fmt.Errorf("SSM agent status unknown for %d instances (shown as %q): %w", len(s.unknown), targets.SSMUnknown, s.ssmErr))
	}
	if s.epErr != nil {
		warnings = append(warnings, fmt.Errorf("cannot tell which instances EC2 Instance Connect Endpoints reach: %w", s.epErr))
	}
	return warnings, nil
}

// assemble adds the managed instances to EC2's, fills in each row's SSM
// status, platform and transports, and sorts the rows by name, then id.
func (s *lsSources) assemble() []listed {
	served := map[string]*eice.Endpoint{} // VPCs with a usable endpoint
	for _, ep := range s.endpoints {
		if eice.Usable(ep.State) && served[ep.VpcID] == nil {
			served[ep.VpcID] = &eice.Endpoint{ID: ep.ID, VpcID: ep.VpcID, SubnetID: ep.SubnetID, State: ep.State}
		}
	}
	rows := s.rows
	for _, m := range s.managed {
		t := instances.ManagedTarget(m)
		if s.q.text != "" && !matchText(s.q.text, t.ID, t.Name, t.PrivateIP) {
			continue
		}
		rows = append(rows, listed{ID: t.ID, Name: t.Name, State: "-", PrivateIP: t.PrivateIP, Managed: true})
		s.ssm[m.ID] = m
	}
	for i := range rows {
		r := &rows[i]
		r.SSM = "-"
		if m, ok := s.ssm[r.ID]; ok {
			r.SSM = m.PingStatus
			if m.PlatformType != "" {
				r.Platform = strings.ToLower(m.PlatformType)
			}
		} else if s.unknown[r.ID] {
			r.SSM = targets.SSMUnknown
		}
		if r.Platform == "" {
			r.Platform = "linux" // EC2 names only windows
		}
		r.Transports = transportsOf(*r, served)
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].Name != rows[b].Name {
			return rows[a].Name < rows[b].Name
		}
		return rows[a].ID < rows[b].ID
	})
	return rows
}

// transportsOf lists the transports that can reach r, auto's choice
// first (transport.Reaches), given the endpoint serving each VPC.
func transportsOf(r listed, served map[string]*eice.Endpoint) []string {
	f := transport.Facts{SSM: r.SSM, Endpoint: served[r.VpcID], PublicIP: r.PublicIP}
	return append([]string{}, transport.Reaches(targets.Instance{ID: r.ID, State: r.State, PrivateIP: r.PrivateIP, Managed: r.Managed}, f)...)
}

func matchText(text string, fields ...string) bool {
	for _, f := range fields {
		if f != "" && strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}
