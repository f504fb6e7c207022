// Package instances finds the client's instances by source: EC2's
// instances, and SSM's managed (mi-) instances and agent status (Lookup,
// the targets.Lookup that resolution, ls, doctor and the proxy use). One
// source failing while another answered is a warning (Lookup.Warn,
// SourceError), only all failing an error; SSM is asked as a secondary
// source (awsapi.Secondary), by tag alone as AWS requires (ManagedWithTag).
package instances

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/targets"
)

// API is what a Lookup asks of AWS (implemented by *awsapi.Client).
type API interface {
	DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]awsapi.Instance, error)
	InstanceInformer
}

// Lookup adapts an API to targets.Lookup.
type Lookup struct {
	API API
	// Warn, if set, receives the failure of one source of instances (EC2,
	// or SSM for managed instances) when the other answered: the search
	// goes on with what the other found, and Warn says what was not
	// searched and why. Nil makes such a failure fail the search.
	Warn func(error)
}

// Find implements targets.Lookup. A search by tag (Name tag, tag:K=V)
// also finds SSM managed (mi-) instances carrying the tag, asked of SSM at
// the same time as EC2: a managed instance's name is its Name tag.
func (l Lookup) Find(ctx context.Context, ids []string, filters map[string][]string) ([]targets.Instance, error) {
	var (
		managed    []targets.Instance
		managedErr error
		done       chan struct{}
	)
	if tagKey, vals, ok := tagFilter(ids, filters); ok {
		done = make(chan struct{})
		go func() {
			defer close(done)
			found, err := ManagedWithTag(ctx, l.API, tagKey, vals)
			if err != nil {
				managedErr = err
				return
			}
			for _, m := range found {
				managed = append(managed, ManagedTarget(m))
			}
		}()
	}
	found, err := l.API.DescribeInstances(ctx, ids, filters)
	var ae *awsapi.APIError
	if errors.As(err, &ae) && ae.Code == "InvalidInstanceID.NotFound" {
		found, err = nil, nil
	}
	out := make([]targets.Instance, len(found))
	for i, x := range found {
		out[i] = TargetOf(x)
	}
	if done == nil {
		return out, err
	}
	<-done
	switch {
	case err != nil && managedErr != nil:
		return nil, errors.Join(err, managedErr)
	case err != nil:
		return managed, l.degrade(&SourceError{Source: "EC2 instances", Err: err})
	case managedErr != nil:
		return out, l.degrade(managedErr)
	}
	return append(out, managed...), nil
}

// degrade hands the failure of one source to Warn and returns nil, or
// returns it when there is no Warn (fail closed: a match the failed
// source would have found might make the target ambiguous).
func (l Lookup) degrade(err error) error {
	if l.Warn == nil {
		return err
	}
	l.Warn(err)
	return nil
}

// SourceError is the failure of one source of instances: EC2's instances,
// SSM's managed instances, SSM's agent status.
type SourceError struct {
	Source string // what was not searched, e.g. "SSM managed (mi-) instances"
	Err    error
}

func (e *SourceError) Error() string { return e.Source + " not searched: " + e.Err.Error() }

func (e *SourceError) Unwrap() error { return e.Err }

// ManagedSource names SSM's managed instances in a SourceError.
const ManagedSource = "SSM managed (mi-) instances"

// InstanceInformer is the SSM call ManagedWithTag makes.
type InstanceInformer interface {
	InstanceInformation(ctx context.Context, filters map[string][]string) ([]awsapi.ManagedInstance, error)
}

// ManagedWithTag returns the SSM managed (mi-) instances whose tag
// (tagKey, "tag:KEY") has one of values, given as EC2 filter values. SSM
// takes a tag filter only on its own (AWS: "Cannot mix tag or inventory
// filter with any other filter"), so EC2 instances that SSM also reports
// are dropped here rather than by a ResourceType filter; and SSM matches
// tag values exactly, so the any-value pattern "*" becomes SSM's tag-key
// filter, and other wildcard patterns are a *SourceError (managed
// instances are not searched for them). A failure is a *SourceError.
func ManagedWithTag(ctx context.Context, api InstanceInformer, tagKey string, values []string) ([]awsapi.ManagedInstance, error) {
	key, ok := strings.CutPrefix(tagKey, "tag:")
	if !ok || key == "" {
		return nil, fmt.Errorf("managed instances by tag: %q is not a tag filter", tagKey)
	}
	filter := map[string][]string{tagKey: values}
	if slices.Contains(values, "*") { // any value: the other values add nothing
		filter = map[string][]string{"tag-key": {key}}
	} else if i := slices.IndexFunc(values, func(v string) bool { return strings.ContainsAny(v, "*?") }); i >= 0 {
		return nil, &SourceError{Source: ManagedSource, Err: fmt.Errorf("SSM matches tag values exactly, and %q is a pattern", values[i])}
	}
	found, err := api.InstanceInformation(awsapi.Secondary(ctx), filter)
	if err != nil {
		return nil, &SourceError{Source: ManagedSource, Err: err}
	}
	var out []awsapi.ManagedInstance
	for _, m := range found {
		if m.ResourceType == "ManagedInstance" || m.ResourceType == "" && strings.HasPrefix(m.ID, "mi-") {
			out = append(out, m)
		}
	}
	return out, nil
}

// tagFilter returns the one tag:K filter of a search without ids whose
// other filters are only EC2's instance state (which managed instances
// do not have).
func tagFilter(ids []string, filters map[string][]string) (string, []string, bool) {
	if len(ids) > 0 {
		return "", nil, false
	}
	var key string
	for k := range filters {
		switch {
		case strings.HasPrefix(k, "tag:") && key == "":
			key = k
		case k == "instance-state-name":
		default:
			return "", nil, false
		}
	}
	if key == "" {
		return "", nil, false
	}
	return key, filters[key], true
}

// TargetOf converts an EC2 instance.
func TargetOf(x awsapi.Instance) targets.Instance {
	return targets.Instance{ID: x.ID, Name: x.Name, State: x.State, AZ: x.AvailabilityZone,
		PrivateIP: x.PrivateIP, PublicIP: x.PublicIP, VpcID: x.VpcID, SubnetID: x.SubnetID, Platform: x.Platform, Account: x.OwnerID}
}

// Managed implements targets.Lookup.
func (l Lookup) Managed(ctx context.Context, id string) ([]targets.Instance, error) {
	found, err := l.API.InstanceInformation(ctx, map[string][]string{"InstanceIds": {id}})
	if err != nil {
		return nil, err
	}
	var out []targets.Instance
	for _, m := range found {
		if m.ID == id {
			out = append(out, ManagedTarget(m))
		}
	}
	return out, nil
}

// ManagedTarget converts SSM's view of a managed (mi-) instance.
func ManagedTarget(m awsapi.ManagedInstance) targets.Instance {
	name := m.Name
	if name == "" {
		name = m.ComputerName
	}
	return targets.Instance{ID: m.ID, Name: name, PrivateIP: m.IPAddress, Platform: strings.ToLower(m.PlatformType), SSM: m.PingStatus, Managed: true}
}

// SSMStatus implements targets.Lookup. SSM is asked as a secondary source
// (awsapi.Secondary): its callers go on without the status.
func (l Lookup) SSMStatus(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for len(ids) > 0 {
		n := min(len(ids), awsapi.MaxInstanceInformationFilterValues)
		found, err := l.API.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"InstanceIds": ids[:n]})
		if err != nil {
			return nil, err
		}
		for _, m := range found {
			out[m.ID] = m.PingStatus
		}
		ids = ids[n:]
	}
	return out, nil
}
