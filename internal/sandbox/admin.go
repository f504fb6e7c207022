package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// EnvAdminToken is the env-file variable holding the admin endpoints'
// secret.
const EnvAdminToken = "JITSSH_SANDBOX_ADMIN_TOKEN"

// requireToken serves next only to requests that carry the sandbox's admin
// secret as "Authorization: Bearer <token>": the API port is reachable by
// every local user (and the admin endpoints can stop instances, put a man
// in the middle, or slow every call), so knowing the port is not enough.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jitssh-sandbox"`)
			http.Error(w, "the sandbox admin endpoints need its secret: send the header \"Authorization: Bearer $"+EnvAdminToken+
				"\" (from the env file `jitssh-sandbox up --env-file` wrote), or use `jitssh-sandbox ctl --env-file FILE`", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckLoopback refuses a listen address that is not a loopback one: the
// sandbox answers anyone with its identities' credentials, host keys and
// instances.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return &NonLoopbackError{Addr: addr}
}

// NonLoopbackError: a listen address is not a loopback one, and
// Config.AllowNonLoopback is not set.
type NonLoopbackError struct {
	// Addr is the listen address refused.
	Addr string
}

func (e *NonLoopbackError) Error() string {
	return fmt.Sprintf("listen address %q is not a loopback address: the sandbox serves its credentials and admin endpoints to whoever reaches it; use 127.0.0.1", e.Addr)
}

// The admin endpoints next to /_sandbox/faults, served on the sandbox's
// loopback listener behind the admin secret (requireToken; docs/sandbox.md,
// "Knobs"):
//
//	GET  /_sandbox/latency              {"ec2:DescribeInstances":"200ms"}
//	PUT  /_sandbox/latency              replaces the latency rules
//	GET  /_sandbox/throttle             {"ssm:StartSession":"25%"}
//	PUT  /_sandbox/throttle             replaces the throttle rules
//	GET  /_sandbox/fail                 {"ssm:DescribeInstanceInformation":"100%"}
//	PUT  /_sandbox/fail                 replaces the fail (HTTP 500) rules
//	GET  /_sandbox/instances            every instance's state and agent
//	PUT  /_sandbox/instances/{id}/state {"state":"stopped"} or "running"
//	PUT  /_sandbox/instances/{id}/agent {"online":false}
func (sb *Sandbox) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("/_sandbox/latency", func(w http.ResponseWriter, r *http.Request) {
		sb.rulesHandler(w, r, sb.knobs.Latency, sb.SetLatency)
	})
	mux.HandleFunc("/_sandbox/throttle", func(w http.ResponseWriter, r *http.Request) {
		sb.rulesHandler(w, r, sb.knobs.Throttle, sb.SetThrottle)
	})
	mux.HandleFunc("/_sandbox/fail", func(w http.ResponseWriter, r *http.Request) {
		sb.rulesHandler(w, r, sb.knobs.Fail, sb.SetFail)
	})
	mux.HandleFunc("GET /_sandbox/instances", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, sb.InstanceStates())
	})
	mux.HandleFunc("PUT /_sandbox/instances/{id}/state", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			State string `json:"state"`
		}
		if !decodeAdmin(w, r, &body) {
			return
		}
		in, err := sb.SetInstanceState(r.PathValue("id"), body.State)
		adminResult(w, in, err)
	})
	mux.HandleFunc("PUT /_sandbox/instances/{id}/agent", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Online *bool `json:"online"`
		}
		if !decodeAdmin(w, r, &body) {
			return
		}
		if body.Online == nil {
			http.Error(w, `want {"online":true} or {"online":false}`, http.StatusBadRequest)
			return
		}
		in, err := sb.SetAgentOnline(r.PathValue("id"), *body.Online)
		adminResult(w, in, err)
	})
}

// InstanceState is an instance's run-time state as the admin endpoint
// shows it.
type InstanceState struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	State   string `json:"state"`
	Agent   string `json:"agent"` // online or offline
	Managed bool   `json:"managed,omitempty"`
}

func stateOf(in world.Instance) InstanceState {
	agent := "offline"
	if in.SSMOnline {
		agent = "online"
	}
	return InstanceState{ID: in.ID, Name: in.Name(), State: in.State, Agent: agent, Managed: in.Managed}
}

// InstanceStates returns the run-time state of every instance that has a
// server (API-only generated instances are left out).
func (sb *Sandbox) InstanceStates() []InstanceState {
	var out []InstanceState
	for _, w := range sb.Org.Worlds() {
		for _, in := range w.Instances() {
			if !in.Virtual {
				out = append(out, stateOf(in))
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// SetInstanceState stops ("stopped") or starts ("running") an instance: a
// stopped instance is listed as stopped, refuses SSH and new sessions
// (TargetNotConnected), EC2 Instance Connect refuses its keys
// (EC2InstanceStateInvalidException), and its live sessions end.
func (sb *Sandbox) SetInstanceState(id, state string) (InstanceState, error) {
	in, err := sb.worldOf(id).SetState(id, state)
	if err != nil {
		return InstanceState{}, err
	}
	sb.log.Info("instance state changed", "instance", id, "state", state)
	return stateOf(in), nil
}

// SetAgentOnline connects or disconnects an instance's SSM agent:
// offline, DescribeInstanceInformation says ConnectionLost and
// StartSession fails with TargetNotConnected.
func (sb *Sandbox) SetAgentOnline(id string, online bool) (InstanceState, error) {
	in, err := sb.worldOf(id).SetSSMOnline(id, online)
	if err != nil {
		return InstanceState{}, err
	}
	sb.log.Info("SSM agent changed", "instance", id, "online", online)
	return stateOf(in), nil
}

// SetLatency replaces the per-API latency rules (knobs.Table.SetLatency).
func (sb *Sandbox) SetLatency(rules map[string]string) error { return sb.knobs.SetLatency(rules) }

// SetThrottle replaces the per-API throttle rules (knobs.Table.SetThrottle).
func (sb *Sandbox) SetThrottle(rules map[string]string) error { return sb.knobs.SetThrottle(rules) }

// SetFail replaces the per-API fail rules (knobs.Table.SetFail): the calls
// they pick are answered with HTTP 500 and the service's internal-error
// code.
func (sb *Sandbox) SetFail(rules map[string]string) error { return sb.knobs.SetFail(rules) }

func (sb *Sandbox) rulesHandler(w http.ResponseWriter, r *http.Request, get func() map[string]string, set func(map[string]string) error) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, get())
	case http.MethodPut:
		rules := map[string]string{}
		if !decodeAdmin(w, r, &rules) {
			return
		}
		if err := set(rules); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sb.log.Info("API knobs changed", "path", r.URL.Path, "rules", rules)
		writeJSON(w, get())
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
	}
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, fmt.Sprintf("bad request body: %v", err), http.StatusBadRequest)
		return false
	}
	return true
}

func adminResult(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
