package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/textwidth"
)

// runLsScope is ls over a scope: every location listed at once (bounded
// per account and region, scope.Each), each location's rows printed as
// it completes, a progress line on stderr when it is a terminal, where
// each instance lives remembered (locationCache), and the locations that
// could not be listed said at the end with their fix. Only every
// location failing is an error.
func runLsScope(ctx context.Context, o *lsOptions, s *scopeSearch) error {
	if _, err := lsQueryFor(o.Filter, o.All); err != nil {
		return err
	}
	// Tens of thousands of instances decoded from XML make garbage in
	// bursts: collect less often (the heap stays tens of megabytes).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the alias lookups still going
	out := newLsStream(o, s, startLsAliases(ctx, s, lsAliasWait))
	found := map[string]scope.Location{}
	var warnings []error
	fails := scope.Each(ctx, s.locs, scope.Limits{}, func(ctx context.Context, l scope.Location, _ func()) error {
		api, err := s.client(ctx, l)
		if err != nil {
			return err
		}
		rows, warned, err := list(ctx, api, o.Filter, o.All)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].Account, rows[i].Profile, rows[i].Region = firstOf(rows[i].Account, l.Account), firstOf(l.Profile, "default"), l.Region
		}
		out.mu.Lock()
		defer out.mu.Unlock()
		for _, w := range warned {
			warnings = append(warnings, &locationError{scope.Failure{Location: l, Err: w}})
		}
		for _, r := range rows {
			found[r.ID] = scope.Location{Profile: l.Profile, Account: r.Account, Region: l.Region}
		}
		return out.rows(aliasKey(l), rows)
	})
	fails = append(s.failures, fails...)
	if err := out.end(); err != nil {
		return err
	}
	if err := locationCache().Put(found); err != nil {
		o.IO.Err.Write([]byte("jitssh: warning: " + err.Error() + "\n"))
	}
	for _, w := range warnings {
		warnTo(o.IO.Err, w)
	}
	return lsFailures(o.IO.Err, s, fails)
}

// lsFailures lists the locations that could not be listed; all of them
// failing is the command's error.
func lsFailures(w io.Writer, s *scopeSearch, fails []scope.Failure) error {
	if len(fails) == 0 {
		return nil
	}
	fmt.Fprintf(w, "jitssh: %d of %d %s not listed:\n", len(fails), len(s.locs)+len(s.failures), "location"+plural(len(s.locs)+len(s.failures)))
	for _, f := range fails {
		fmt.Fprintf(w, "  %s\n", failureText(f))
	}
	if len(fails) >= len(s.locs)+len(s.failures) {
		errs := make([]error, len(fails))
		for i, f := range fails {
			errs[i] = f
		}
		return fmt.Errorf("no location of scope %s could be listed: %w", s.name, errors.Join(errs...))
	}
	return nil
}

// lsStream writes ls's rows as they come: a table whose columns have
// fixed widths (the name, of any width, last), or a JSON array written
// element by element; and the progress line on a terminal's stderr.
// Rows that come before the accounts' aliases are known are held
// (pending) and written when they are (ls_alias.go).
type lsStream struct {
	mu       sync.Mutex
	o        *lsOptions
	json     bool
	started  bool
	widths   []int
	progress *lsProgress
	aliases  *lsAliases
	// aliased: the aliases are known and the ACCOUNT column's width set.
	aliased bool
	pending []lsBatch
	err     error // writing the pending rows failed
}

// lsBatch is one location's rows and whose alias they show (aliasKey).
type lsBatch struct {
	key  string
	rows []listed
}

// lsScopeColumns are the columns of ls over a scope.
var lsScopeColumns = []string{"ACCOUNT", "PROFILE", "REGION", "ID", "STATE", "PRIVATE-IP", "PUBLIC-IP", "PLATFORM", "SSM", "TRANSPORTS", "NAME"}

func newLsStream(o *lsOptions, s *scopeSearch, aliases *lsAliases) *lsStream {
	st := &lsStream{o: o, json: o.Output == "json", progress: newLsProgress(o.IO, len(s.locs)), aliases: aliases}
	prof, reg := len("PROFILE"), len("REGION")
	for _, l := range s.locs {
		prof, reg = max(prof, len(firstOf(l.Profile, "default"))), max(reg, len(l.Region))
	}
	st.widths = []int{12, prof, reg, 19, 13, 15, 15, 8, 14, 16}
	go func() {
		<-aliases.ready
		st.mu.Lock()
		defer st.mu.Unlock()
		st.progress.without(st.useAliases)
	}()
	return st
}

// useAliases sets the ACCOUNT column's width to the widest alias (at
// least an id's) and writes the rows held until the aliases were known
// (the caller holds mu; once).
func (st *lsStream) useAliases() {
	if st.aliased {
		return
	}
	st.aliased = true
	for _, a := range st.aliases.all() {
		st.widths[0] = max(st.widths[0], textwidth.Width(a))
	}
	for _, b := range st.pending {
		if err := st.write(b.key, b.rows); err != nil {
			st.err = err
			break
		}
	}
	st.pending = nil
}

// rows writes one location's rows, or holds them until the aliases are
// known (the caller holds mu).
func (st *lsStream) rows(key string, rows []listed) error {
	defer st.progress.hold()(len(rows))
	if st.err != nil {
		return st.err
	}
	if !st.aliased {
		st.pending = append(st.pending, lsBatch{key: key, rows: rows})
		return nil
	}
	return st.write(key, rows)
}

// write writes rows, with the alias of key's account.
func (st *lsStream) write(key string, rows []listed) error {
	if alias := st.aliases.of(key); alias != "" {
		for i := range rows {
			rows[i].AccountAlias = alias
		}
	}
	w := st.o.IO.Out
	if st.json {
		for _, r := range rows {
			b, err := json.MarshalIndent(r, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if !st.started {
				sep, st.started = "[\n  ", true
			}
			if _, err := fmt.Fprintf(w, "%s%s", sep, b); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	if !st.started {
		st.started = true
		st.line(&b, lsScopeColumns)
	}
	for _, r := range rows {
		st.line(&b, []string{dash(firstOf(r.AccountAlias, r.Account)), r.Profile, r.Region, r.ID, r.State, dash(r.PrivateIP), dash(r.PublicIP), r.Platform, r.SSM, dash(strings.Join(r.Transports, ",")), dash(r.Name)})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// line writes cells padded to the stream's widths (the last as is).
func (st *lsStream) line(b *strings.Builder, cells []string) {
	for i, c := range cells {
		c = targets.Printable(c)
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(textwidth.Pad(c, st.widths[i]))
		b.WriteString("  ")
	}
	b.WriteByte('\n')
}

// end writes the rows still held (waiting for the aliases, at most until
// lsAliasWait), closes the JSON array (or writes the table's header when
// no row came) and erases the progress line.
func (st *lsStream) end() error {
	<-st.aliases.ready
	st.mu.Lock()
	defer st.mu.Unlock()
	st.progress.without(st.useAliases)
	st.progress.stop()
	if st.err != nil {
		return st.err
	}
	w := st.o.IO.Out
	var err error
	switch {
	case st.json && st.started:
		_, err = io.WriteString(w, "\n]\n")
	case st.json:
		_, err = io.WriteString(w, "[]\n")
	case !st.started:
		var b strings.Builder
		st.line(&b, lsScopeColumns)
		_, err = io.WriteString(w, b.String())
	}
	return err
}

// lsProgress is "jitssh: ls: 37/200 locations, 7400 instances" on stderr
// while ls runs over a scope, when stderr is a terminal (nil otherwise:
// every method is then a no-op); erased before rows are written.
type lsProgress struct {
	w              io.Writer
	mu             sync.Mutex
	locs, ndone, n int
	shown          bool
	stopTick       chan struct{}
}

func newLsProgress(s IOStreams, locs int) *lsProgress {
	f, ok := s.terminal(s.Err)
	if !ok {
		return nil
	}
	p := &lsProgress{w: f, locs: locs, stopTick: make(chan struct{})}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stopTick:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *lsProgress) draw() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locs < 0 {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[Kjitssh: ls: %d/%d locations, %d instances", p.ndone, p.locs, p.n)
	p.shown = true
}

// hold erases the line and keeps it off until the returned func, called
// with the rows written meanwhile, is.
func (p *lsProgress) hold() func(rows int) {
	if p == nil {
		return func(int) {}
	}
	p.mu.Lock()
	p.erase()
	return func(rows int) {
		p.ndone++
		p.n += rows
		p.mu.Unlock()
	}
}

// without runs fn with the line erased and kept off meanwhile.
func (p *lsProgress) without(fn func()) {
	if p == nil {
		fn()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	fn()
}

// erase erases the line (the caller holds mu).
func (p *lsProgress) erase() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func (p *lsProgress) stop() {
	if p == nil {
		return
	}
	close(p.stopTick)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	p.locs = -1 // a tick already waiting draws nothing
}
