package apis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/jitssh/jitssh/internal/hostcmd"
	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// runHostSteps runs a jitssh-host users script on inst as SSM's agent
// would run the shell script (set -e): each step with the instance's real
// jitssh-host (Options.RunHost), in order, stopping at the first failure.
func (h *handler) runHostSteps(inst world.Instance, steps []hostcmd.Step) world.Invocation {
	now := h.world.Now()
	if h.opts.RunHost == nil {
		return world.Invocation{Status: "Failed", ResponseCode: 127, Start: now, End: now,
			Stderr: "sh: 3: jitssh-host: not found\nfailed to run commands: exit status 127"}
	}
	var stdout, stderr strings.Builder
	inv := world.Invocation{Status: "Success", Start: now}
	for _, s := range steps {
		run, ok := h.opts.RunHost(inst.ID, s.Args())
		if !ok {
			inv.Status, inv.ResponseCode = "Failed", 127
			stderr.WriteString("sh: 3: jitssh-host: not found (the sandbox runs jitssh-host only for the EC2 instances of its OpenSSH mode, docs/sandbox.md)\n")
			break
		}
		stdout.WriteString(run.Stdout)
		stderr.WriteString(run.Stderr)
		if run.Code != 0 {
			inv.Status, inv.ResponseCode = "Failed", run.Code
			break
		}
	}
	if inv.Status == "Failed" {
		fmt.Fprintf(&stderr, "failed to run commands: exit status %d", inv.ResponseCode)
	}
	inv.Stdout, inv.Stderr, inv.End = stdout.String(), stderr.String(), h.world.Now()
	return inv
}

// listCommandInvocations serves ssm:ListCommandInvocations for one
// command (CommandId, optionally InstanceId), with Details for the
// output; the sandbox's commands have finished when SendCommand answers.
func (h *handler) listCommandInvocations(c *call) (any, error) {
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
	details, err := in.bool("Details")
	if err != nil {
		return nil, err
	}
	var v validation
	v.length(cid, "commandId", 36, 36)
	v.pattern(iid, "instanceId", ssmInstanceIDPattern.String(), ssmInstanceIDPattern.MatchString)
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	if err := h.authorize(c, "ssm:ListCommandInvocations", "*", nil); err != nil {
		return nil, err
	}
	if cid == nil {
		return nil, awsproto.Errorf("ValidationException", "The sandbox lists the invocations of one command: CommandId is required.")
	}
	cmd, ok := h.world.Command(*cid)
	if !ok {
		return nil, awsproto.Errorf("InvalidCommandId", "")
	}
	type plugin struct {
		Name           string `json:"Name"`
		Status         string `json:"Status"`
		ResponseCode   int    `json:"ResponseCode"`
		Output         string `json:"Output"`
		ResponseStart  float64
		ResponseFinish float64
	}
	type invocation struct {
		CommandID     string   `json:"CommandId"`
		InstanceID    string   `json:"InstanceId"`
		Comment       string   `json:"Comment"`
		DocumentName  string   `json:"DocumentName"`
		RequestedDate float64  `json:"RequestedDateTime"`
		Status        string   `json:"Status"`
		StatusDetails string   `json:"StatusDetails"`
		CommandPlugin []plugin `json:"CommandPlugins"`
	}
	out := struct {
		CommandInvocations []invocation `json:"CommandInvocations"`
	}{CommandInvocations: []invocation{}}
	ids := make([]string, 0, len(cmd.Invocations))
	for id := range cmd.Invocations {
		if iid == nil || *iid == id {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		inv := cmd.Invocations[id]
		ci := invocation{CommandID: cmd.ID, InstanceID: id, Comment: cmd.Comment, DocumentName: cmd.DocumentName,
			RequestedDate: epoch(cmd.Requested), Status: inv.Status, StatusDetails: inv.Status, CommandPlugin: []plugin{}}
		if details != nil && *details {
			ci.CommandPlugin = append(ci.CommandPlugin, plugin{Name: "aws:runShellScript", Status: inv.Status,
				ResponseCode: inv.ResponseCode, Output: inv.Stdout + inv.Stderr,
				ResponseStart: epoch(inv.Start), ResponseFinish: epoch(inv.End)})
		}
		out.CommandInvocations = append(out.CommandInvocations, ci)
	}
	return out, nil
}

// bool returns member name as a boolean; nil when absent or null.
func (o jsonObject) bool(name string) (*bool, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, serializationError("Expected a boolean for %s.", name)
	}
	return &b, nil
}
