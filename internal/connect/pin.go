package connect

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// checkPin returns inst's pinned keys, if any, unless they were pinned
// in another account than inst's (both known: a legacy pin or an
// instance of unknown account passes): then the error is a
// *knownhosts.AccountMismatchError, and nothing may connect. Instance ids
// are unique across AWS, so that instance is another machine claiming
// the id.
func (o *proxy) checkPin(inst targets.Instance) ([]ssh.PublicKey, error) {
	pinned, account, err := o.Pins.LookupPin(inst.ID)
	if err != nil {
		return nil, fmt.Errorf("read host-key pins: %w", err)
	}
	if len(pinned) > 0 && account != "" && inst.Account != "" && account != inst.Account {
		return nil, &knownhosts.AccountMismatchError{Alias: inst.ID, PinnedAccount: account, Account: inst.Account, File: o.Pins.Path}
	}
	return pinned, nil
}

// ensurePinned makes sure inst's host key is pinned, for inst's account
// (checkPin). A missing pin is learned over the requested transport when
// AWS authenticates it (ssm, eice), else over SSM if the agent is online,
// else over EICE; with neither, it is an error saying how to pin it. The
// pin records inst.Account when it is known.
func (o *proxy) ensurePinned(ctx context.Context, inst targets.Instance, requested string, facts *factsOnce) error {
	pinned, err := o.checkPin(inst)
	if err != nil {
		return err
	}
	if len(pinned) > 0 {
		return nil
	}
	learnOver := requested
	if !transport.Trusted(requested) {
		f, err := facts.get(ctx)
		if err != nil {
			return fmt.Errorf("learn host key of %s: %w", inst.ID, err)
		}
		switch {
		case f.SSM == "Online":
			learnOver = transport.NameSSM
		case f.Endpoint != nil:
			learnOver = transport.NameEICE
		default:
			return &NoTrustedChannelError{Instance: inst, Facts: f, Pins: o.Pins.Path}
		}
	}
	tr, err := o.transport(ctx, learnOver, inst, facts)
	if err != nil {
		return err
	}
	defer o.Progress.Begin("learning the host key of %s over %s", firstNonEmpty(inst.Name, inst.ID), learnOver)()
	c, err := tr.Dial(ctx, inst, o.Port)
	if err != nil {
		return fmt.Errorf("learn host key of %s: %w", inst.ID, err)
	}
	var keys []ssh.PublicKey
	err = transport.Within(ctx, o.Timeouts.BannerTimeout(), fmt.Sprintf("sshd on %s to show its host key over %s", inst.ID, learnOver),
		"the path is open but sshd did not complete a key exchange: it may be stopped, hung or overloaded", func(ctx context.Context) (err error) {
			keys, err = knownhosts.Learn(ctx, c, o.User)
			return err
		})
	if err != nil {
		var te *transport.TimeoutError
		if errors.As(err, &te) {
			return err
		}
		return fmt.Errorf("learn host key of %s over %s: %w", inst.ID, learnOver, err)
	}
	if err := o.Pins.Pin(inst.ID, inst.Account, keys); err != nil {
		return err
	}
	o.Logger.Info("pinned host key", "instance", inst.ID, "account", inst.Account, "learned_over", learnOver, "type", keys[0].Type())
	return nil
}

// NoTrustedChannelError is a missing pin that cannot be learned: neither
// SSM nor an EC2 Instance Connect Endpoint reaches the instance, and
// direct or bastion connections are never trusted to teach a host key.
type NoTrustedChannelError struct {
	Instance targets.Instance
	Facts    transport.Facts
	Pins     string
}

func (e *NoTrustedChannelError) Error() string {
	return fmt.Sprintf("no pinned host key for %s (%s), and no AWS-authenticated channel to learn it over: its SSM agent is %s and no EC2 Instance Connect Endpoint serves its VPC %s",
		e.Instance.ID, dash(e.Instance.Name), transport.SSMWord(e.Facts.SSM), dash(e.Instance.VpcID))
}

// Advice says how to get a pin: over a channel AWS authenticates, or by
// hand.
func (e *NoTrustedChannelError) Advice() string {
	return fmt.Sprintf("jitssh never trusts a host key first seen over a direct or bastion connection. Get the SSM agent online or create an EC2 Instance Connect Endpoint and connect once, "+
		"or pin the key yourself after checking it out of band (e.g. from the instance's console output): add a line `%s <key type> <base64 key>` to %s", e.Instance.ID, e.Pins)
}
