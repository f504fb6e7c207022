package apis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/hostcmd"
	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// RunShellScript is the one command document the sandbox runs.
const RunShellScript = "AWS-RunShellScript"

// Constraints from the SSM API model.
var (
	ssmInstanceIDPattern = regexp.MustCompile(`^(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)$`)
	commandIDPattern     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

type ssmCommand struct {
	CommandID              string              `json:"CommandId"`
	DocumentName           string              `json:"DocumentName"`
	DocumentVersion        string              `json:"DocumentVersion"`
	Comment                string              `json:"Comment"`
	ExpiresAfter           float64             `json:"ExpiresAfter"`
	Parameters             map[string][]string `json:"Parameters"`
	InstanceIDs            []string            `json:"InstanceIds"`
	Targets                []struct{}          `json:"Targets"`
	RequestedDateTime      float64             `json:"RequestedDateTime"`
	Status                 string              `json:"Status"`
	StatusDetails          string              `json:"StatusDetails"`
	OutputS3Region         string              `json:"OutputS3Region"`
	OutputS3BucketName     string              `json:"OutputS3BucketName"`
	OutputS3KeyPrefix      string              `json:"OutputS3KeyPrefix"`
	MaxConcurrency         string              `json:"MaxConcurrency"`
	MaxErrors              string              `json:"MaxErrors"`
	TargetCount            int                 `json:"TargetCount"`
	CompletedCount         int                 `json:"CompletedCount"`
	ErrorCount             int                 `json:"ErrorCount"`
	DeliveryTimedOutCount  int                 `json:"DeliveryTimedOutCount"`
	ServiceRole            string              `json:"ServiceRole"`
	TimeoutSeconds         int                 `json:"TimeoutSeconds"`
	CloudWatchOutputConfig cloudWatchOutput    `json:"CloudWatchOutputConfig"`
}

type cloudWatchOutput struct {
	CloudWatchLogGroupName  string `json:"CloudWatchLogGroupName"`
	CloudWatchOutputEnabled bool   `json:"CloudWatchOutputEnabled"`
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// sendCommand serves ssm:SendCommand for AWS-RunShellScript on
// InstanceIds. The sandbox runs no other shell than the jitssh
// key-placement script (package placekey), and only on a managed (mi-)
// instance: Parse must recognise it, and what runs (Options.PlaceKey) is
// the script Script writes for what Parse returned. Any other script, and
// any script on an EC2 instance, fails the way a failing script does
// (Status Failed, a non-zero ResponseCode, a message on standard error).
func (h *handler) sendCommand(c *call) (any, error) {
	in, err := parseSendCommand(c.body)
	if err != nil {
		return nil, err
	}
	ids, params := in.ids, in.params
	doc := documentName(*in.docName)

	// The caller must be allowed the document and every instance.
	for _, id := range ids {
		var keys map[string][]string
		if inst, ok := h.world.Instance(id); ok {
			keys = resourceTagKeys(inst, nil)
		}
		if err := h.authorize(c, "ssm:SendCommand", h.targetARN(id), keys); err != nil {
			return nil, err
		}
	}
	if err := h.authorize(c, "ssm:SendCommand", h.documentARN(doc), nil); err != nil {
		return nil, err
	}
	if doc != RunShellScript {
		return nil, awsproto.Errorf("InvalidDocument", "Document with name %s does not exist or is not a Command document the sandbox runs (only %s).", doc, RunShellScript)
	}
	for k := range params {
		if k != "commands" && k != "workingDirectory" && k != "executionTimeout" {
			return nil, awsproto.Errorf("InvalidParameters", "Parameter %q is not defined in document %s.", k, RunShellScript)
		}
	}
	if len(params["commands"]) == 0 {
		return nil, awsproto.Errorf("InvalidParameters", "Parameter \"commands\" is required and cannot be empty.")
	}
	targets, err := h.commandTargets(ids)
	if err != nil {
		return nil, err
	}

	now := h.world.Now()
	cmd := world.Command{DocumentName: doc, Parameters: params, Requested: now, Caller: c.id.ARN,
		Invocations: map[string]world.Invocation{}}
	if in.comment != nil {
		cmd.Comment = *in.comment
	}
	cmd = h.world.AddCommand(cmd) // the id first: placed keys name it
	for _, inst := range targets {
		cmd.Invocations[inst.ID] = h.runScript(inst, params["commands"], cmd.ID)
	}
	sec := 3600
	if in.timeout != nil {
		sec = int(*in.timeout)
	}
	ids = ids[:0]
	for _, t := range targets {
		ids = append(ids, t.ID)
	}
	sort.Strings(ids)
	return struct {
		Command ssmCommand `json:"Command"`
	}{ssmCommand{
		CommandID: cmd.ID, DocumentName: doc, DocumentVersion: "$DEFAULT", Comment: cmd.Comment,
		ExpiresAfter: epoch(now.Add(time.Duration(sec)*time.Second + 5*time.Minute)), Parameters: params,
		InstanceIDs: ids, Targets: []struct{}{}, RequestedDateTime: epoch(now),
		Status: "Pending", StatusDetails: "Pending", OutputS3Region: h.world.Region,
		MaxConcurrency: "50", MaxErrors: "0", TargetCount: len(targets), TimeoutSeconds: sec,
	}}, nil
}

// sendCommandInput is SendCommand's request, as far as the sandbox
// emulates it.
type sendCommandInput struct {
	ids              []string
	docName, comment *string
	params           map[string][]string
	timeout          *int64
}

// parseSendCommand decodes and validates SendCommand's request as SSM
// does (ValidationException), before any authorization.
func parseSendCommand(body []byte) (*sendCommandInput, error) {
	in, err := parseJSONObject(body)
	if err != nil {
		return nil, err
	}
	var r sendCommandInput
	if r.ids, err = in.strList("InstanceIds"); err != nil {
		return nil, err
	}
	if r.docName, err = in.str("DocumentName"); err != nil {
		return nil, err
	}
	if r.comment, err = in.str("Comment"); err != nil {
		return nil, err
	}
	if r.params, err = in.strListMap("Parameters"); err != nil {
		return nil, err
	}
	if r.timeout, err = in.int("TimeoutSeconds"); err != nil {
		return nil, err
	}
	for k := range in {
		switch k {
		case "InstanceIds", "DocumentName", "Comment", "Parameters", "TimeoutSeconds", "DocumentVersion":
		case "Targets":
			return nil, awsproto.Errorf("ValidationException", "The sandbox supports InstanceIds, not Targets.")
		default:
			return nil, awsproto.Errorf("ValidationException", "The sandbox does not emulate the SendCommand parameter %s.", k)
		}
	}
	var v validation
	v.required(r.docName, "documentName")
	if len(r.ids) > 50 {
		n := fmt.Sprint(len(r.ids))
		v.fail(&n, "instanceIds", "have length less than or equal to 50")
	}
	for _, id := range r.ids {
		v.pattern(&id, "instanceIds.member", ssmInstanceIDPattern.String(), ssmInstanceIDPattern.MatchString)
	}
	if r.comment != nil {
		v.length(r.comment, "comment", 0, 100)
	}
	if r.timeout != nil && (*r.timeout < 30 || *r.timeout > 2592000) {
		n := fmt.Sprint(*r.timeout)
		v.fail(&n, "timeoutSeconds", "have value between 30 and 2592000")
	}
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	if len(r.ids) == 0 {
		return nil, awsproto.Errorf("ValidationException", "Either InstanceIds or Targets must be specified.")
	}
	return &r, nil
}

// commandTargets returns the instances of ids (each once), all running
// with the agent online, else InvalidInstanceId naming those that are not.
func (h *handler) commandTargets(ids []string) ([]world.Instance, error) {
	var bad []string
	targets := make([]world.Instance, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		inst, ok := h.world.Instance(id)
		if !ok || inst.State != "running" || !inst.SSMOnline {
			bad = append(bad, id)
			continue
		}
		targets = append(targets, inst)
	}
	if len(bad) > 0 {
		return nil, awsproto.Errorf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", strings.Join(bad, ", "), h.world.Account)
	}
	return targets, nil
}

// runScript is the simulated agent's run of AWS-RunShellScript: a
// jitssh-host users script (package hostcmd) on any instance, the
// key-placement form on a managed instance, nothing else anywhere.
func (h *handler) runScript(inst world.Instance, commands []string, commandID string) world.Invocation {
	now := h.world.Now()
	fail := func(why string) world.Invocation {
		return world.Invocation{Status: "Failed", ResponseCode: 1, Start: now, End: now,
			Stderr: "jitssh-sandbox: " + inst.ID + " runs no shell; " + why + "\nfailed to run commands: exit status 1"}
	}
	if steps, err := hostcmd.Parse(commands); err == nil {
		return h.runHostSteps(inst, steps)
	}
	if !inst.Managed {
		return fail("it runs only jitssh's jitssh-host users scripts; the sandbox's EC2 instances take SSH keys through EC2 Instance Connect only (docs/sandbox.md)")
	}
	p, err := placekey.Parse(commands, now)
	if err != nil {
		return fail("it runs only the jitssh key-placement script (docs/sandbox.md, \"Managed instances\"): " + err.Error())
	}
	if h.opts.PlaceKey != nil {
		if run, ok := h.opts.PlaceKey(inst.ID, p); ok {
			end := h.world.Now()
			if run.Code != 0 {
				return world.Invocation{Status: "Failed", ResponseCode: run.Code, Start: now, End: end, Stdout: run.Stdout,
					Stderr: run.Stderr + fmt.Sprintf("failed to run commands: exit status %d", run.Code)}
			}
			h.world.PlaceKey(world.PlacedKey{InstanceID: inst.ID, OSUser: p.User, PublicKey: p.Key, Expires: p.Expires, CommandID: commandID})
			return world.Invocation{Status: "Success", Start: now, End: end, Stdout: run.Stdout, Stderr: run.Stderr}
		}
	}
	h.world.PlaceKey(world.PlacedKey{InstanceID: inst.ID, OSUser: p.User, PublicKey: p.Key, Expires: p.Expires, CommandID: commandID})
	return world.Invocation{Status: "Success", Start: now, End: now}
}

type commandInvocation struct {
	CommandID              string           `json:"CommandId"`
	InstanceID             string           `json:"InstanceId"`
	Comment                string           `json:"Comment"`
	DocumentName           string           `json:"DocumentName"`
	DocumentVersion        string           `json:"DocumentVersion"`
	PluginName             string           `json:"PluginName"`
	ResponseCode           int              `json:"ResponseCode"`
	ExecutionStartDateTime string           `json:"ExecutionStartDateTime"`
	ExecutionElapsedTime   string           `json:"ExecutionElapsedTime"`
	ExecutionEndDateTime   string           `json:"ExecutionEndDateTime"`
	Status                 string           `json:"Status"`
	StatusDetails          string           `json:"StatusDetails"`
	StandardOutputContent  string           `json:"StandardOutputContent"`
	StandardOutputURL      string           `json:"StandardOutputUrl"`
	StandardErrorContent   string           `json:"StandardErrorContent"`
	StandardErrorURL       string           `json:"StandardErrorUrl"`
	CloudWatchOutputConfig cloudWatchOutput `json:"CloudWatchOutputConfig"`
}

// getCommandInvocation serves ssm:GetCommandInvocation.
func (h *handler) getCommandInvocation(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	cid, err := in.str("CommandId")
	if err != nil {
		return nil, err
	}
	iid, err := in.str("InstanceId")
	if err != nil {
		return nil, err
	}
	plugin, err := in.str("PluginName")
	if err != nil {
		return nil, err
	}
	var v validation
	if v.required(cid, "commandId") {
		v.length(cid, "commandId", 36, 36)
	}
	if v.required(iid, "instanceId") {
		v.pattern(iid, "instanceId", ssmInstanceIDPattern.String(), ssmInstanceIDPattern.MatchString)
	}
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	if err := h.authorize(c, "ssm:GetCommandInvocation", "*", nil); err != nil {
		return nil, err
	}
	if !commandIDPattern.MatchString(*cid) {
		return nil, awsproto.Errorf("InvalidCommandId", "")
	}
	cmd, ok := h.world.Command(*cid)
	if !ok {
		return nil, awsproto.Errorf("InvalidCommandId", "")
	}
	inv, ok := cmd.Invocations[*iid]
	if !ok || plugin != nil && *plugin != "aws:runShellScript" {
		return nil, awsproto.Errorf("InvocationDoesNotExist", "")
	}
	const layout = "2006-01-02T15:04:05.000Z"
	return commandInvocation{
		CommandID: cmd.ID, InstanceID: *iid, Comment: cmd.Comment, DocumentName: cmd.DocumentName,
		DocumentVersion: "$DEFAULT", PluginName: "aws:runShellScript", ResponseCode: inv.ResponseCode,
		ExecutionStartDateTime: inv.Start.UTC().Format(layout), ExecutionEndDateTime: inv.End.UTC().Format(layout),
		ExecutionElapsedTime: fmt.Sprintf("PT%.3fS", inv.End.Sub(inv.Start).Seconds()),
		Status:               inv.Status, StatusDetails: inv.Status,
		StandardOutputContent: inv.Stdout, StandardErrorContent: inv.Stderr,
	}, nil
}
