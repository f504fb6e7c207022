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
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/target"
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

FILTER is tag:KEY=VALUE (filtered by EC2) or text matched, ignoring case,
against each instance's name, id, addresses and DNS names. Terminated
instances are left out unless --all.`,
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
			rows, warn, err := list(cmd.Context(), api, filter, all)
			if err != nil {
				return err
			}
			if warn != nil {
				fmt.Fprintf(g.io.Err, "jitssh: cannot tell which instances EC2 Instance Connect Endpoints reach: %v\n", warn)
			}
			if output == "json" {
				enc := json.NewEncoder(g.io.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			table := [][]string{{"STATE", "NAME", "ID", "PRIVATE-IP", "PUBLIC-IP", "PLATFORM", "SSM", "TRANSPORTS"}}
			for _, r := range rows {
				table = append(table, []string{r.State, dash(r.Name), r.ID, dash(r.PrivateIP), dash(r.PublicIP), r.Platform, r.SSM, dash(strings.Join(r.Transports, ","))})
			}
			_, err = fmt.Fprint(g.io.Out, target.FormatTable(table, ""))
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
// Endpoints, all concurrently. A failed endpoint listing (e.g. not allowed)
// is returned as a warning, not an error.
func list(ctx context.Context, api lister, filter string, all bool) ([]listed, error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	filters := map[string][]string{}
	if !all {
		filters["instance-state-name"] = []string{"pending", "running", "stopping", "stopped", "shutting-down"}
	}
	text := strings.ToLower(filter)
	if strings.HasPrefix(filter, "tag:") {
		sp, err := target.Parse(filter)
		if err != nil {
			return nil, nil, err
		}
		filters["tag:"+sp.TagKey] = []string{sp.Value}
		text = ""
	}
	var (
		mu       sync.Mutex
		rows     []listed
		ssm      = map[string]awsapi.ManagedInstance{}
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, lsConcurrency)
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	ssmLookup := func(f map[string][]string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		found, err := api.InstanceInformation(ctx, f)
		if err != nil {
			fail(err)
			return
		}
		mu.Lock()
		for _, m := range found {
			ssm[m.ID] = m
		}
		mu.Unlock()
	}
	var managed []awsapi.ManagedInstance
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
		found, err := api.InstanceInformation(ctx, map[string][]string{"ResourceType": {"ManagedInstance"}})
		if err != nil {
			fail(err)
			return
		}
		managed = found
	}()
	err := api.DescribeInstancesPages(ctx, nil, filters, func(page []awsapi.Instance) error {
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
			go ssmLookup(map[string][]string{"InstanceIds": ids[:n]})
			ids = ids[n:]
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	served := map[string]bool{} // VPCs with a usable endpoint
	for _, ep := range endpoints {
		if eice.Usable(ep.State) {
			served[ep.VpcID] = true
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
		}
		if r.Platform == "" {
			r.Platform = "linux" // EC2 names only windows
		}
		r.Transports = []string{}
		if r.SSM == "Online" && (r.State == "running" || r.Managed) {
			r.Transports = append(r.Transports, "ssm")
		}
		if served[r.VpcID] && r.PrivateIP != "" && r.State == "running" && !r.Managed {
			r.Transports = append(r.Transports, "eice")
		}
		if r.PublicIP != "" && r.State == "running" {
			r.Transports = append(r.Transports, "direct")
		}
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].Name != rows[b].Name {
			return rows[a].Name < rows[b].Name
		}
		return rows[a].ID < rows[b].ID
	})
	if epErr != nil && ctx.Err() == nil {
		return rows, epErr, nil
	}
	return rows, nil, nil
}

func matchText(text string, fields ...string) bool {
	for _, f := range fields {
		if f != "" && strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}
