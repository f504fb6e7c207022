package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// The sandbox's internet is loopback: each sandbox claims a block
// 127.X.Y.0/24 (X in 100..254, chosen at random among free ones, so that
// sandboxes running side by side do not collide) and gives every instance
// with `public = true` the address 127.X.Y.n. The instance's SSH server
// listens on <public ip>:<ssh port>, the port being 22 when the sandbox can
// bind it (root) and otherwise one free port shared by all public
// instances of the sandbox. Private IPs (10.x) are never dialled: only the
// sandbox's own routing (dial) maps them to instances. See docs/sandbox.md.

// publicBlockAttempts bounds the random search for a free block.
const publicBlockAttempts = 32

// publicNet is the listeners of the public addresses.
type publicNet struct {
	port int
	lns  map[string]net.Listener // by instance id
}

// assignPublicIPs gives the running instances that ask for one (Public,
// not virtual) a loopback public IP and listens on every public
// address (assigned or explicit) on the SSH port.
func assignPublicIPs(region string, ins []world.Instance) (*publicNet, error) {
	var auto, explicit []int
	for i, in := range ins {
		switch {
		case in.Virtual:
		case in.Public && in.PublicIP == "" && in.State == "running":
			// A stopped instance has no public IPv4 address on EC2.
			auto = append(auto, i)
		case in.PublicIP != "":
			explicit = append(explicit, i)
		}
	}
	pn := &publicNet{lns: map[string]net.Listener{}}
	if len(auto) == 0 && len(explicit) == 0 {
		return pn, nil
	}
	if len(auto) > 253 {
		return nil, fmt.Errorf("%d instances ask for a public IP; a sandbox's loopback block holds 253", len(auto))
	}
	ports := []int{22, 0}
	if os.Geteuid() != 0 {
		ports = []int{0}
	}
	var lastErr error
	for _, port := range ports {
		tries := publicBlockAttempts
		if port == 22 {
			tries = 4 // something may hold *:22 (a real sshd): then no block works
		}
		for range tries {
			block := [3]byte{127, byte(100 + rand.IntN(155)), byte(rand.IntN(256))}
			lns, p, err := listenBlock(block, len(auto), port)
			if err != nil {
				lastErr = err
				if errors.Is(err, syscall.EACCES) {
					break
				}
				continue
			}
			for k, i := range auto {
				ip := netip.AddrFrom4([4]byte{block[0], block[1], block[2], byte(k + 1)}).String()
				ins[i].PublicIP, ins[i].PublicDNS = ip, config.PublicDNS(region, ip)
				pn.lns[ins[i].ID] = lns[k]
			}
			pn.port = p
			if len(auto) == 0 {
				pn.port = port
				if port == 0 {
					pn.port = freePort()
				}
			}
			pn.listenExplicit(ins, explicit)
			return pn, nil
		}
	}
	return nil, fmt.Errorf("claim a loopback block 127.X.Y.0/24 for public IPs: %w", lastErr)
}

// listenBlock listens on 127.b1.b2.1 … .n, all on port (0: the free port
// the first listener gets).
func listenBlock(block [3]byte, n, port int) ([]net.Listener, int, error) {
	var lns []net.Listener
	for k := range n {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{block[0], block[1], block[2], byte(k + 1)}), uint16(port))
		ln, err := net.Listen("tcp", addr.String())
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, 0, fmt.Errorf("listen on %s: %w", addr, err)
		}
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, port, nil
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// listenExplicit listens on the public IPs the configuration gave
// explicitly. They are the user's responsibility: one that is not an
// address of this machine (198.51.100.7) gets no listener, like an
// instance whose security group keeps port 22 closed.
func (pn *publicNet) listenExplicit(ins []world.Instance, idx []int) {
	for _, i := range idx {
		addr := net.JoinHostPort(ins[i].PublicIP, fmt.Sprint(pn.port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pn.lns[ins[i].ID] = ln
	}
}

// mitmTable holds the instances whose public address is answered by an
// impostor SSH server.
type mitmTable struct {
	mu       sync.Mutex
	on       map[string]bool
	impostor *sshd.Server
}

// servePublic accepts connections on an instance's public address and
// hands each to its SSH server (or, under SetMITM, to the impostor). A
// connection to an instance that is not running is closed at once.
func (sb *Sandbox) servePublic(id string, srv *sshd.Server, ln net.Listener) {
	sb.cleanups = append(sb.cleanups, func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				in, ok := sb.worldOf(id).Instance(id)
				if !ok || in.State != "running" {
					c.Close()
					return
				}
				if imp := sb.mitmFor(id); imp != nil {
					sb.pipeSSH(c, imp)
					return
				}
				sb.pipeSSH(c, srv)
			}()
		}
	}()
}

// SetMITM turns the man in the middle on the network path to an
// instance's public address on or off: while on, connections to
// PublicAddr are answered by an impostor SSH server with a different host
// key. SSM, EICE and bastion paths still reach the real instance.
func (sb *Sandbox) SetMITM(instanceID string, on bool) error {
	info, ok := sb.instanceInfo(instanceID)
	if !ok {
		return fmt.Errorf("no instance %s with an SSH server in this sandbox", instanceID)
	}
	if info.PublicAddr == "" {
		return fmt.Errorf("instance %s has no public address to intercept", instanceID)
	}
	sb.mitm.mu.Lock()
	defer sb.mitm.mu.Unlock()
	if on && sb.mitm.impostor == nil {
		imp, err := sshd.New(sshd.Config{
			InstanceID: "impostor", StateDir: sb.StateDir + "/impostor", Mode: sshd.Embedded, RealHostname: true,
			Authorize: func(context.Context, string, string) ([]string, error) { return nil, nil },
			Logger:    sb.log.With("component", "impostor"),
		})
		if err != nil {
			return fmt.Errorf("start the impostor SSH server: %w", err)
		}
		sb.mitm.impostor = imp // closed by Close
	}
	if sb.mitm.on == nil {
		sb.mitm.on = map[string]bool{}
	}
	sb.mitm.on[instanceID] = on
	return nil
}

func (sb *Sandbox) mitmFor(id string) *sshd.Server {
	sb.mitm.mu.Lock()
	defer sb.mitm.mu.Unlock()
	if sb.mitm.on[id] {
		return sb.mitm.impostor
	}
	return nil
}

func (sb *Sandbox) instanceInfo(id string) (InstanceInfo, bool) {
	for _, in := range sb.Instances {
		if in.ID == id {
			return in, true
		}
	}
	return InstanceInfo{}, false
}

// instancesAdminHandler serves /_sandbox/instances/<id>/mitm: GET shows
// {"enabled":bool}, PUT sets it from the same JSON.
func (sb *Sandbox) instancesAdminHandler(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/_sandbox/instances/")
	id, knob, ok := strings.Cut(rest, "/")
	if !ok || knob != "mitm" {
		http.Error(w, "unknown admin path: want /_sandbox/instances/<instance id>/mitm", http.StatusNotFound)
		return
	}
	if _, ok := sb.instanceInfo(id); !ok {
		http.Error(w, fmt.Sprintf("no instance %s with an SSH server in this sandbox", id), http.StatusNotFound)
		return
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"enabled\":%t}\n", sb.mitmFor(id) != nil)
	case http.MethodPut:
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Enabled == nil {
			http.Error(w, `bad body: want {"enabled":true} or {"enabled":false}`, http.StatusBadRequest)
			return
		}
		if err := sb.SetMITM(id, *body.Enabled); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
	}
}
