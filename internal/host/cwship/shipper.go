package cwship

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/spool"
	"github.com/jitssh/jitssh/internal/imds"
)

// PutLogEvents' limits (AWS's documentation).
const (
	maxBatchEvents = 10_000
	maxBatchBytes  = 1_048_576
	eventOverhead  = 26
	maxEventBytes  = 262_144 - eventOverhead
	maxBatchSpan   = 24 * time.Hour
	// maxEventAge: older events are refused by CloudWatch Logs (14 days);
	// a margin keeps the shipper from sending what would be rejected.
	maxEventAge = 14*24*time.Hour - time.Hour
)

// Shipper moves events from a spool to one log stream.
type Shipper struct {
	Spool  *spool.Spool
	Client *Client
	Group  string
	Stream string
	// FlushInterval is how long the shipper waits for more events when
	// the spool is empty.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (doubling, jittered); zero means 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger

	// Counters, for the log and tests.
	Shipped, Retries, Rejected int

	streamReady bool
	failures    int
	limit       int // events per batch, halved after InvalidParameterException
}

// Run ships until ctx ends.
func (s *Shipper) Run(ctx context.Context) {
	if s.FlushInterval <= 0 {
		s.FlushInterval = hostconfig.DefaultFlushInterval
	}
	s.limit = maxBatchEvents
	for ctx.Err() == nil {
		n, err := s.Once(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			s.wait(ctx, s.backoff())
		case n == 0:
			s.wait(ctx, s.FlushInterval)
		}
	}
}

func (s *Shipper) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// backoff returns the next wait after a failure: doubling from
// MinBackoff to MaxBackoff, with the upper half jittered.
func (s *Shipper) backoff() time.Duration {
	lo, hi := s.MinBackoff, s.MaxBackoff
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	d := lo << min(s.failures, 20)
	if d > hi || d <= 0 {
		d = hi
	}
	s.failures++
	return d/2 + rand.N(d/2+1)
}

// Once ships one batch (after reporting drops) and returns how many events
// it shipped; an error means CloudWatch Logs did not take them and they
// stay in the spool.
func (s *Shipper) Once(ctx context.Context) (int, error) {
	if err := s.reportDropped(); err != nil {
		s.Log.Error("cloudwatch: spool", "err", err)
	}
	if _, err := s.Spool.Seal(); err != nil {
		s.Log.Error("cloudwatch: spool", "err", err)
		return 0, err
	}
	recs, end, err := s.read()
	if err != nil {
		s.Log.Error("cloudwatch: spool", "err", err)
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	batch, skipped := s.batch(recs)
	if len(batch.LogEvents) > 0 {
		if err := s.put(ctx, &batch); err != nil {
			return 0, err
		}
	}
	if err := s.Spool.Commit(end); err != nil {
		s.Log.Error("cloudwatch: spool commit (the batch may be shipped again; readers drop duplicates by id)", "err", err)
		return 0, err
	}
	s.failures = 0
	s.Shipped += len(batch.LogEvents)
	if skipped > 0 {
		s.Log.Warn("cloudwatch: events not shipped: older than CloudWatch Logs accepts or too large", "events", skipped)
	}
	return len(batch.LogEvents), nil
}

// read returns the next records that make one valid batch: at most
// s.limit events, 1 MiB with 26 bytes each, spanning at most 24 hours
// (after sorting), and the spool position after the last.
func (s *Shipper) read() ([]spool.Record, spool.Position, error) {
	quiet := *s.Spool // the second Read reports the problems
	quiet.Report = nil
	recs, _, err := quiet.Read(s.limit, maxBatchBytes)
	if err != nil || len(recs) == 0 {
		return nil, spool.Position{}, err
	}
	size, n := 0, 0
	lo, hi := recs[0].Time, recs[0].Time
	for _, r := range recs {
		sz := len(r.Line) + eventOverhead
		if r.Time.Before(lo) {
			lo = r.Time
		}
		if r.Time.After(hi) {
			hi = r.Time
		}
		if n > 0 && (size+sz > maxBatchBytes || hi.Sub(lo) > maxBatchSpan) {
			break
		}
		size += sz
		n++
	}
	return s.Spool.Read(n, 1<<62)
}

type inputEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

type putInput struct {
	LogGroupName  string       `json:"logGroupName"`
	LogStreamName string       `json:"logStreamName"`
	LogEvents     []inputEvent `json:"logEvents"`
}

// batch turns records into a PutLogEvents input in chronological order,
// leaving out events CloudWatch Logs would refuse (too old, too large).
func (s *Shipper) batch(recs []spool.Record) (putInput, int) {
	in := putInput{LogGroupName: s.Group, LogStreamName: s.Stream}
	oldest := time.Now().Add(-maxEventAge)
	skipped := 0
	for _, r := range recs {
		if r.Time.Before(oldest) || len(r.Line) > maxEventBytes {
			skipped++
			continue
		}
		in.LogEvents = append(in.LogEvents, inputEvent{Timestamp: r.Time.UnixMilli(), Message: string(r.Line)})
	}
	sort.SliceStable(in.LogEvents, func(i, j int) bool { return in.LogEvents[i].Timestamp < in.LogEvents[j].Timestamp })
	return in, skipped
}

type putOutput struct {
	RejectedLogEventsInfo *struct {
		TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex"`
		TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex"`
		ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex"`
	} `json:"rejectedLogEventsInfo"`
}

// put sends the batch, creating the stream when it is missing.
func (s *Shipper) put(ctx context.Context, in *putInput) error {
	if !s.streamReady {
		if err := s.createStream(ctx); err != nil {
			return err
		}
	}
	var out putOutput
	err := s.Client.Call(ctx, "PutLogEvents", in, &out)
	var ae *APIError
	switch {
	case err == nil:
		s.limit = min(s.limit*2, maxBatchEvents)
		s.noteRejected(in, out)
		return nil
	case errors.As(err, &ae) && ae.Code == "ResourceNotFoundException":
		s.streamReady = false
		s.Log.Warn("cloudwatch: log stream missing; creating it", "group", s.Group, "stream", s.Stream)
	case errors.As(err, &ae) && ae.Code == "InvalidParameterException" && len(in.LogEvents) > 1:
		s.limit = max(1, len(in.LogEvents)/2)
		s.Log.Error("cloudwatch: batch refused; retrying in halves to isolate the event", "events", len(in.LogEvents), "err", err)
	case errors.As(err, &ae) && ae.Code == "InvalidParameterException":
		s.Log.Error("cloudwatch: event refused by CloudWatch Logs; dropped", "message", in.LogEvents[0].Message, "err", err)
		s.Rejected++
		return nil
	case errors.As(err, &ae) && ae.Retryable():
		s.Retries++
		s.Log.Warn("cloudwatch: CloudWatch Logs busy or failing; the events stay in the spool, retrying", "events", len(in.LogEvents), "err", err)
	default:
		s.Retries++
		s.Log.Error("cloudwatch: cannot ship; the events stay in the spool, retrying", "events", len(in.LogEvents), "err", err)
	}
	return err
}

func (s *Shipper) createStream(ctx context.Context) error {
	err := s.Client.Call(ctx, "CreateLogStream", map[string]string{"logGroupName": s.Group, "logStreamName": s.Stream}, nil)
	var ae *APIError
	if err == nil || errors.As(err, &ae) && ae.Code == "ResourceAlreadyExistsException" {
		s.streamReady = true
		return nil
	}
	if errors.As(err, &ae) && ae.Code == "ResourceNotFoundException" {
		err = fmt.Errorf("log group %s does not exist; create it (aws logs create-log-group --log-group-name %s): %w", s.Group, s.Group, err)
	}
	s.Log.Error("cloudwatch: cannot create the log stream; retrying", "group", s.Group, "stream", s.Stream, "err", err)
	return err
}

func (s *Shipper) noteRejected(in *putInput, out putOutput) {
	r := out.RejectedLogEventsInfo
	if r == nil {
		return
	}
	n := 0
	if r.TooOldLogEventEndIndex != nil {
		n += *r.TooOldLogEventEndIndex + 1
	}
	if r.ExpiredLogEventEndIndex != nil {
		n = max(n, *r.ExpiredLogEventEndIndex+1)
	}
	if r.TooNewLogEventStartIndex != nil {
		n += len(in.LogEvents) - *r.TooNewLogEventStartIndex
	}
	s.Rejected += n
	s.Log.Warn("cloudwatch: CloudWatch Logs rejected events outside its time window (is the clock right?)", "events", n)
}

// reportDropped appends a spool-dropped event for events the spool's cap
// dropped, so the log group says what it is missing.
func (s *Shipper) reportDropped() error {
	n, err := spool.Dropped(s.Spool.Dir)
	if err != nil || n == 0 {
		return err
	}
	now := time.Now().UTC()
	e := audit.Event{ID: audit.NewID(now), Time: now, Event: audit.EventSpoolDropped, Source: "cloudwatch", Detail: fmt.Sprintf("%d events dropped: the spool exceeded its size cap while CloudWatch Logs could not take them", n)}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := spool.Append(s.Spool.Dir, line, s.Spool.MaxBytes); err != nil {
		return err
	}
	s.Log.Warn(fmt.Sprintf("cloudwatch: spool over its size cap: dropped the %d oldest events (raise spool_max_bytes, or see why shipping stalled above)", n), "events", n)
	return s.Spool.ClearDropped(n)
}

// Run ships the spool of hc's [cloudwatch] until ctx ends: the region and
// stream (the instance id) from IMDS unless configured, the role's
// credentials from IMDS.
func Run(ctx context.Context, hc hostconfig.Config, log *slog.Logger) error {
	cw := hc.CloudWatch
	ic, err := imds.New(imds.Options{Endpoint: hc.IMDSEndpoint, TokenTTL: time.Minute})
	if err != nil {
		return err
	}
	defer ic.Close()
	var region, instance string
	for ctx.Err() == nil {
		region, instance, err = instanceFacts(ctx, ic, cw.Region)
		if err == nil {
			break
		}
		log.Error("cloudwatch: IMDS (instance id, region); retrying in 10s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	var roots *x509.CertPool
	if cw.CABundle != "" {
		pem, err := hostconfig.ReadSecureFile(cw.CABundle)
		if err != nil {
			return fmt.Errorf("cloudwatch: ca_bundle: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("cloudwatch: ca_bundle %s holds no PEM certificate", cw.CABundle)
		}
	}
	client, err := NewClient(ClientOptions{Endpoint: cw.Endpoint, Region: region, Roots: roots, Credentials: &RoleCredentials{IMDS: ic}})
	if err != nil {
		return err
	}
	defer client.Close()
	lk, err := waitReaderLock(ctx, cw.SpoolDir, log)
	if lk == nil {
		return err
	}
	defer lk.Close()
	sp := &spool.Spool{Dir: cw.SpoolDir, MaxBytes: cw.SpoolMaxBytes, Report: func(p spool.Problem) { log.Warn("cloudwatch: " + p.String()) }}
	log.Info("cloudwatch: shipping audit events", "group", cw.LogGroup, "stream", instance, "region", region, "spool", cw.SpoolDir)
	s := &Shipper{Spool: sp, Client: client, Group: cw.LogGroup, Stream: instance, FlushInterval: cw.FlushInterval, Log: log}
	s.Run(ctx)
	return nil
}

// waitReaderLock takes the spool's reader lock, waiting while another
// shipper holds it (nil when ctx ends first).
func waitReaderLock(ctx context.Context, dir string, log *slog.Logger) (*os.File, error) {
	for warned := false; ; warned = true {
		lk, err := spool.ReaderLock(dir)
		if lk != nil || err != nil {
			return lk, err
		}
		if !warned {
			log.Warn("cloudwatch: another process ships this spool; waiting for it to stop", "spool", dir)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(time.Second):
		}
	}
}

func instanceFacts(ctx context.Context, ic *imds.Client, region string) (string, string, error) {
	sess, err := ic.Session(ctx)
	if err != nil {
		return "", "", err
	}
	id, err := sess.GetString(ctx, "instance-id")
	if err != nil {
		return "", "", err
	}
	if region == "" {
		if region, err = sess.GetString(ctx, "placement/region"); err != nil {
			return "", "", err
		}
	}
	return region, id, nil
}
