package sandbox

import (
	"context"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// startManaged starts a managed (hybrid, mi-…) instance: no IMDS (it is
// not in EC2, so EC2 Instance Connect keys never reach it) and the
// embedded SSH server, which accepts exactly the unexpired keys placed by
// the key-placement command (SSM SendCommand, docs/sandbox.md "Managed
// instances").
func (sb *Sandbox) startManaged(in world.Instance, dir string) (InstanceInfo, error) {
	srv, err := sshd.New(sshd.Config{
		InstanceID: in.ID,
		Hostname:   in.Hostname,
		StateDir:   dir,
		Mode:       sshd.Embedded,
		Logger:     sb.log.With("component", "sshd", "instance", in.ID),
		Authorize:  sb.placedKeyAuthorizer(in.ID),
	})
	if err != nil {
		return InstanceInfo{}, err
	}
	sb.hosts[in.ID] = srv
	info := InstanceInfo{
		ID: in.ID, Name: in.Name(), Hostname: in.Hostname, State: in.State,
		PrivateIP: in.PrivateIP, SSHServer: sshd.Embedded.String(), Managed: true,
		SSHDLog: srv.LogPath(),
	}
	addr, err := sb.listenSSH(in.ID, srv)
	if err != nil {
		return InstanceInfo{}, err
	}
	info.SSHAddr = addr
	return info, nil
}

// placedKeyAuthorizer answers the embedded server's key lookups from the
// world's placed keys.
func (sb *Sandbox) placedKeyAuthorizer(id string) func(ctx context.Context, user, fingerprint string) ([]string, error) {
	return func(ctx context.Context, user, fingerprint string) ([]string, error) {
		keys := sb.World.PlacedKeys(id, user)
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k.PublicKey
		}
		sb.log.Info("authorized keys of a managed instance", "instance", id, "user", user, "fingerprint", fingerprint, "keys", len(lines))
		return lines, nil
	}
}
