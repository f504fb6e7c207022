package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/jitssh/jitssh/internal/sandbox/fault"
)

// faultTable holds the data-channel faults: a default for every session and
// overrides per session id.
type faultTable struct {
	mu         sync.Mutex
	def        fault.Config
	perSession map[string]fault.Config
}

func (f *faultTable) lookup(sessionID string) fault.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.perSession[sessionID]; ok {
		return c
	}
	return f.def
}

// SetFaults sets the faults for one session, or for every session that has
// no override of its own when sessionID is "". They apply to connections
// opened (or resumed) from then on.
func (sb *Sandbox) SetFaults(sessionID string, c fault.Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	sb.faults.mu.Lock()
	defer sb.faults.mu.Unlock()
	if sessionID == "" {
		sb.faults.def = c
		return nil
	}
	if sb.faults.perSession == nil {
		sb.faults.perSession = map[string]fault.Config{}
	}
	sb.faults.perSession[sessionID] = c
	return nil
}

// faultsHandler is the admin endpoint /_sandbox/faults: GET shows the faults
// (?session=ID for one session), PUT sets them from a JSON body such as
// {"drop":0.05,"duplicate":0.01,"reorder":0.02,"delay":"2ms","close_after":"5s"}.
// It is served only on the sandbox's loopback listener.
func (sb *Sandbox) faultsHandler(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("session")
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(sb.faults.lookup(id))
	case http.MethodPut:
		var c fault.Config
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			http.Error(w, fmt.Sprintf("bad fault configuration: %v", err), http.StatusBadRequest)
			return
		}
		if err := sb.SetFaults(id, c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
	}
}

// DataChannelDuplicates returns how many stream messages the agent
// received more than once in a session (live or ended): the client's
// unneeded resends plus any duplicates injected as faults; "" totals
// every session.
func (sb *Sandbox) DataChannelDuplicates(sessionID string) int {
	return sb.agent.DuplicatesReceived(sessionID)
}

// dataChannelHandler is the admin endpoint GET /_sandbox/datachannel
// [?session=ID]: {"duplicates_received":N} for one session, or every
// session without ?session.
func (sb *Sandbox) dataChannelHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"duplicates_received": sb.DataChannelDuplicates(r.URL.Query().Get("session"))})
}

// FaultStats returns the data-channel faults injected so far and how many
// times clients resumed a data channel.
func (sb *Sandbox) FaultStats() (fault.Stats, int) {
	return sb.faultTotals.Snapshot(), sb.agent.Resumes()
}
