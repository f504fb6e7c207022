package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/eice"
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
}

// lsConcurrency bounds the SSM calls in flight.
const lsConcurrency = 8

func newLsCmd(g *globals) *cobra.Command {
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:   "ls [FILTER]",
		Short: "List instances: state, name, id, addresses, platform, SSM agent and how jitssh can reach each",
		Long: `ls lists the EC2 instances of the account and region (and SSM managed
instances), with their SSM agent status and the transports that can reach
each: "ssm" when the agent is online, "eice" when an EC2 Instance Connect
Endpoint serves its VPC, "direct" when the instance has a public address
(the first one listed is what --transport auto uses). "bastion" is not
listed: any instance a jump host can route to is reachable with --via.

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
  jitssh ls --output json | jq -r '.[] | select(.ssm_agent=="Online") | .id'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: use table or json", output)
			}
			filter := ""
			if len(args) == 1 {
				filter = args[0]
			}
			api, err := g.api(cmd.Context(), "")
			if err != nil {
				return err
			}
			rows, warnings, err := list(cmd.Context(), api, filter, all)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				g.warn(w)
			}
			if output == "json" {
				if rows == nil {
					rows = []listed{} // [], not null: `jq '.[]'` works on no match
				}
				enc := json.NewEncoder(g.io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			table := [][]string{{"STATE", "NAME", "ID", "PRIVATE-IP", "PUBLIC-IP", "PLATFORM", "SSM", "TRANSPORTS"}}
			for _, r := range rows {
				table = append(table, []string{r.State, dash(r.Name), r.ID, dash(r.PrivateIP), dash(r.PublicIP), r.Platform, r.SSM, dash(strings.Join(r.Transports, ","))})
			}
			_, err = fmt.Fprint(g.io.Out, targets.FormatTable(table, ""))
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.Flags().BoolVar(&all, "all", false, "include terminated instances")
	return cmd
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
	filters := map[string][]string{}
	if !all {
		filters["instance-state-name"] = []string{"pending", "running", "stopping", "stopped", "shutting-down"}
	}
	text := strings.ToLower(filter)
	var tagKey, tagValue string
	if strings.HasPrefix(filter, "tag:") {
		sp, err := targets.Parse(filter)
		if err != nil {
			return nil, nil, err
		}
		tagKey, tagValue = "tag:"+sp.TagKey, sp.Value
		filters[tagKey] = []string{tagValue}
		text = ""
	}
	var (
		mu      sync.Mutex
		ssm     = map[string]awsapi.ManagedInstance{}
		unknown = map[string]bool{} // instances SSM could not be asked about
		ssmErr  error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, lsConcurrency)
	)
	ssmLookup := func(ids []string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		found, err := api.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"InstanceIds": ids})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			for _, id := range ids {
				unknown[id] = true
			}
			if ssmErr == nil {
				ssmErr = err
			}
			return
		}
		for _, m := range found {
			ssm[m.ID] = m
		}
	}
	var managed []awsapi.ManagedInstance
	var managedErr error
	var endpoints []awsapi.InstanceConnectEndpoint
	var epErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		endpoints, epErr = api.InstanceConnectEndpoints(ctx, map[string][]string{"state": eice.UsableStates})
	}()
	wg.Add(1)
	go func() { // hybrid (mi-) instances are not in EC2
		defer wg.Done()
		if tagKey != "" {
			managed, managedErr = connect.ManagedWithTag(ctx, api, tagKey, []string{tagValue})
			return
		}
		managed, managedErr = api.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"ResourceType": {"ManagedInstance"}})
		if managedErr != nil {
			managedErr = &connect.SourceError{Source: connect.ManagedSource, Err: managedErr}
		}
	}()
	ec2Err := api.DescribeInstancesPages(ctx, nil, filters, func(page []awsapi.Instance) error {
		var ids []string
		mu.Lock()
		for _, in := range page {
			if text != "" && !matchText(text, in.ID, in.Name, in.PrivateIP, in.PublicIP, in.PrivateDNS, in.PublicDNS) {
				continue
			}
			t := connect.TargetOf(in)
			rows = append(rows, listed{ID: t.ID, Name: t.Name, State: t.State, AZ: t.AZ, PrivateIP: t.PrivateIP, PublicIP: t.PublicIP, VpcID: t.VpcID, Platform: t.Platform})
			ids = append(ids, in.ID)
		}
		mu.Unlock()
		for len(ids) > 0 {
			n := min(len(ids), awsapi.MaxInstanceInformationFilterValues)
			wg.Add(1)
			go ssmLookup(ids[:n])
			ids = ids[n:]
		}
		return nil
	})
	wg.Wait()
	if ec2Err != nil {
		if managedErr != nil {
			return nil, nil, errors.Join(ec2Err, managedErr)
		}
		warnings = append(warnings, &connect.SourceError{Source: "EC2 instances", Err: ec2Err})
	}
	if managedErr != nil {
		warnings = append(warnings, managedErr)
	}
	if ssmErr != nil {
		warnings = append(warnings, fmt.Errorf("SSM agent status unknown for %d instances (shown as %q): %w", len(unknown), targets.SSMUnknown, ssmErr))
	}
	if epErr != nil {
		warnings = append(warnings, fmt.Errorf("cannot tell which instances EC2 Instance Connect Endpoints reach: %w", epErr))
	}
	served := map[string]*eice.Endpoint{} // VPCs with a usable endpoint
	for _, ep := range endpoints {
		if eice.Usable(ep.State) && served[ep.VpcID] == nil {
			served[ep.VpcID] = &eice.Endpoint{ID: ep.ID, VpcID: ep.VpcID, SubnetID: ep.SubnetID, State: ep.State}
		}
	}
	for _, m := range managed {
		t := connect.ManagedTarget(m)
		if text != "" && !matchText(text, t.ID, t.Name, t.PrivateIP) {
			continue
		}
		rows = append(rows, listed{ID: t.ID, Name: t.Name, State: "-", PrivateIP: t.PrivateIP, Managed: true})
		ssm[m.ID] = m
	}
	for i := range rows {
		r := &rows[i]
		r.SSM = "-"
		if m, ok := ssm[r.ID]; ok {
			r.SSM = m.PingStatus
			if m.PlatformType != "" {
				r.Platform = strings.ToLower(m.PlatformType)
			}
		} else if unknown[r.ID] {
			r.SSM = targets.SSMUnknown
		}
		if r.Platform == "" {
			r.Platform = "linux" // EC2 names only windows
		}
		f := transport.Facts{SSM: r.SSM, Endpoint: served[r.VpcID], PublicIP: r.PublicIP}
		r.Transports = append([]string{}, transport.Reaches(targets.Instance{ID: r.ID, State: r.State, PrivateIP: r.PrivateIP, Managed: r.Managed}, f)...)
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].Name != rows[b].Name {
			return rows[a].Name < rows[b].Name
		}
		return rows[a].ID < rows[b].ID
	})
	return rows, warnings, nil
}

func matchText(text string, fields ...string) bool {
	for _, f := range fields {
		if f != "" && strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}
