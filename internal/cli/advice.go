package cli

import (
	"errors"
	"fmt"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// advised is a library error with what to do about it, in the words of
// jitssh's commands and flags (which the libraries do not name).
type advised struct {
	err    error
	advice string
}

func (e *advised) Error() string { return e.err.Error() + e.advice }

func (e *advised) Unwrap() error { return e.err }

// advise adds to err what to do about the typed library errors in it;
// other errors are returned as they are.
func advise(err error) error {
	var (
		unreachable *transport.UnreachableError
		noPublicIP  *transport.NoPublicIPError
		direct      *transport.DirectError
		managed     *connect.ManagedError
		noPrivate   *connect.NoPrivateKeyError
		notFound    *targets.NotFoundError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unreachable) && unreachable.Instance.Managed:
		return &advised{err, fmt.Sprintf(" (`jitssh doctor %s`)", unreachable.Instance.ID)}
	case errors.As(err, &unreachable):
		return &advised{err, fmt.Sprintf(". Use --via BASTION (--transport bastion) through a host in its VPC, create an EC2 Instance Connect Endpoint in its subnet, or get its SSM agent online (`jitssh doctor %s`)", unreachable.Instance.ID)}
	case errors.As(err, &noPublicIP):
		return &advised{err, "; reach it with --transport ssm (SSM agent online), eice (an EC2 Instance Connect Endpoint in its VPC) or bastion --via a host that can"}
	case errors.As(err, &direct):
		return &advised{err, "; try --transport ssm or eice"}
	case errors.As(err, &managed) && managed.JumpHost:
		return &advised{err, "; reach managed instances with --transport ssm"}
	case errors.As(err, &managed):
		return &advised{err, "; use --transport ssm or auto"}
	case errors.As(err, &noPrivate):
		return &advised{err, " (with your own key (-i / --public-key), load it into the ssh-agent)"}
	case errors.Is(err, connect.ErrNoKeyFile):
		return &advised{err, ": pass --identity-file (the ssh config block does)"}
	case errors.As(err, &notFound) && notFound.ByID():
		return &advised{err, ": check the id and --region/--profile (`jitssh ls` lists instances)"}
	case errors.As(err, &notFound):
		return &advised{err, "; `jitssh ls` lists instances"}
	case errors.Is(err, connect.ErrBastionWithoutPins):
		return &advised{err, " (--no-pin)"}
	}
	return err
}
