package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/targets"
)

// FactsAPI is what gathering an instance's facts asks of AWS: its SSM
// agent status and the Instance Connect Endpoints of its VPC.
type FactsAPI interface {
	InstanceInformation(ctx context.Context, filters map[string][]string) ([]awsapi.ManagedInstance, error)
	InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error)
}

// Facts are what auto decides from.
type Facts struct {
	SSM         string         // SSM agent ping status, "" if not registered
	SSMErr      error          // why SSM could not be asked (SSM is then "")
	Endpoint    *eice.Endpoint // usable EICE endpoint in the instance's VPC, if any
	EndpointErr error          // why there is none, when the lookup failed
	PublicIP    string
}

// GatherFacts asks AWS what auto needs to know about inst: its SSM agent
// status and an EICE endpoint in its VPC, concurrently. With needAll
// false it returns as soon as the SSM agent is known to be online (the
// endpoint lookup is then abandoned).
func GatherFacts(ctx context.Context, api FactsAPI, inst targets.Instance, needAll bool) (Facts, error) {
	return GatherFactsWith(ctx, api, inst, needAll, nil)
}

// SSMStatusFunc returns an instance's SSM agent status ("" if it is not
// registered).
type SSMStatusFunc func(context.Context) (string, error)

func ssmStatus(ctx context.Context, api FactsAPI, id string) (string, error) {
	// SSM is asked as a secondary source (awsapi.Secondary): its callers
	// go on without the status.
	found, err := api.InstanceInformation(awsapi.Secondary(ctx), map[string][]string{"InstanceIds": {id}})
	if err != nil {
		return "", fmt.Errorf("ask SSM about %s: %w", id, err)
	}
	for _, m := range found {
		if m.ID == id {
			return m.PingStatus, nil
		}
	}
	return "", nil
}

// PrefetchSSM starts asking for an instance's SSM agent status now (when
// the id is known before the target is resolved) and returns a func that
// waits for the answer.
func PrefetchSSM(ctx context.Context, api FactsAPI, id string) SSMStatusFunc {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := ssmStatus(ctx, api, id)
		ch <- res{s, err}
	}()
	return func(wctx context.Context) (string, error) {
		select {
		case r := <-ch:
			return r.s, r.err
		case <-wctx.Done():
			return "", wctx.Err()
		}
	}
}

// GatherFactsWith is GatherFacts taking the SSM agent's status from
// status (PrefetchSSM) if it is not nil.
func GatherFactsWith(ctx context.Context, api FactsAPI, inst targets.Instance, needAll bool, status SSMStatusFunc) (f Facts, err error) {
	if status == nil {
		status = func(ctx context.Context) (string, error) { return ssmStatus(ctx, api, inst.ID) }
	}
	err = Within(ctx, DefaultAPITimeout, "SSM and EC2 to say how "+inst.ID+" can be reached", CauseAPI, func(ctx context.Context) (err error) {
		f, err = gatherFactsNow(ctx, api, inst, needAll, status)
		return err
	})
	return f, err
}

func gatherFactsNow(ctx context.Context, api FactsAPI, inst targets.Instance, needAll bool, status SSMStatusFunc) (Facts, error) {
	f := Facts{PublicIP: inst.PublicIP}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type epResult struct {
		ep  eice.Endpoint
		err error
	}
	epc := make(chan epResult, 1)
	go func() {
		ep, err := FindEndpoint(ctx, api, inst)
		epc <- epResult{ep, err}
	}()
	st, err := status(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return f, err
	case err != nil:
		// SSM could not be asked (not allowed, failing): decide from
		// the other facts rather than not at all.
		f.SSMErr = err
	default:
		f.SSM = st
		if f.SSM == "Online" && !needAll {
			return f, nil
		}
	}
	r := <-epc
	if r.err == nil {
		f.Endpoint = &r.ep
	} else {
		f.EndpointErr = r.err
	}
	return f, nil
}

// Reaches lists the transports that reach inst with these facts, in
// auto's order of preference: the one rule auto, `jitssh ls` and `jitssh
// doctor` share. ssm needs the agent online (and the instance running,
// unless it is an SSM managed, mi-, instance, which only ssm reaches);
// eice an endpoint serving the VPC and a private address; direct a public
// address; both need a running EC2 instance. A State of "" counts as
// running (a target that resolved is running).
func Reaches(inst targets.Instance, f Facts) []string {
	live := inst.State == "" || inst.State == "running"
	var out []string
	if f.SSM == "Online" && (live || inst.Managed) {
		out = append(out, NameSSM)
	}
	if inst.Managed || !live {
		return out
	}
	if f.Endpoint != nil && inst.PrivateIP != "" {
		out = append(out, NameEICE)
	}
	if f.PublicIP != "" {
		out = append(out, NameDirect)
	}
	return out
}

// Auto chooses a transport from the facts: the first that Reaches
// lists (SSM when the agent is online, else an EICE endpoint in the VPC,
// else the public IP directly; for a managed, mi-, instance SSM or
// nothing). The reason says why, for `jitssh doctor` and -v; no choice is
// an *UnreachableError.
func Auto(inst targets.Instance, f Facts) (name, reason string, err error) {
	r := Reaches(inst, f)
	if len(r) == 0 {
		return "", "", unreachable(inst, f)
	}
	switch name = r[0]; {
	case inst.Managed:
		reason = "it is an SSM managed instance (only ssm reaches those) and its SSM agent is online"
	case name == NameSSM:
		reason = "the SSM agent is online"
	case name == NameEICE:
		reason = fmt.Sprintf("the SSM agent is %s, and EC2 Instance Connect Endpoint %s serves its VPC %s", f.ssmWord(), f.Endpoint.ID, inst.VpcID)
	default:
		reason = fmt.Sprintf("the SSM agent is %s, no EC2 Instance Connect Endpoint serves its VPC, and it has public IP %s", f.ssmWord(), f.PublicIP)
	}
	return name, reason, nil
}

// unreachable is Auto's error when no transport reaches inst.
func unreachable(inst targets.Instance, f Facts) error {
	return &UnreachableError{Instance: inst, Facts: f}
}

// UnreachableError is Auto finding no transport that reaches Instance
// with these Facts. Its message says why; the command line adds what to
// do (the flags and commands that could help).
type UnreachableError struct {
	Instance targets.Instance
	Facts    Facts
}

func (e *UnreachableError) Error() string {
	inst, f := e.Instance, e.Facts
	if inst.Managed {
		return fmt.Sprintf("no transport can reach %s (%s): it is an SSM managed instance, which only the ssm transport reaches (EC2 Instance Connect, its endpoints and EC2 addresses do not serve mi- instances), and its SSM agent is %s: "+
			"get the agent online (amazon-ssm-agent running, able to reach the ssm, ssmmessages and ec2messages endpoints)", inst.ID, dash(inst.Name), f.ssmWord())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no transport can reach %s (%s): the SSM agent is %s; ", inst.ID, dash(inst.Name), f.ssmWord())
	if f.EndpointErr != nil && !errors.Is(f.EndpointErr, eice.ErrNoEndpoint) {
		fmt.Fprintf(&b, "looking for an EC2 Instance Connect Endpoint failed (%v); ", f.EndpointErr)
	} else {
		fmt.Fprintf(&b, "no EC2 Instance Connect Endpoint in its VPC %s; ", dash(inst.VpcID))
	}
	b.WriteString("it has no public IP address")
	return b.String()
}

func (f Facts) ssmWord() string {
	if f.SSMErr != nil {
		return fmt.Sprintf("unknown (%v)", f.SSMErr)
	}
	return SSMWord(f.SSM)
}

// SSMWord is an SSM agent status for people: "not registered" for "".
func SSMWord(s string) string {
	if s == "" {
		return "not registered"
	}
	return s
}
