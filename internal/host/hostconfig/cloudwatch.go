package hostconfig

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// CloudWatch is the [cloudwatch] table: shipping the audit events to
// CloudWatch Logs (docs/instance.md). Shipping is on when LogGroup is set.
//
//	[cloudwatch]
//	log_group      = "/jitssh/instances"          # required to ship
//	region         = "eu-west-1"                  # default ("" too): the instance's, from IMDS
//	endpoint       = "https://logs.eu-west-1.amazonaws.com"  # default ("" too): AWS's for the region
//	ca_bundle      = "/etc/jitssh/logs-ca.pem"    # default: the system roots
//	spool_dir      = "/var/spool/jitssh/cloudwatch"
//	spool_max_bytes = 67108864                    # oldest events dropped (counted) beyond it
//	flush_interval = "5s"                         # how long events may wait to make a batch
type CloudWatch struct {
	LogGroup      string
	Region        string
	Endpoint      string
	CABundle      string
	SpoolDir      string
	SpoolMaxBytes int64
	FlushInterval time.Duration
}

// CloudWatch defaults.
const (
	DefaultSpoolDir      = "/var/spool/jitssh/cloudwatch"
	DefaultSpoolMaxBytes = 64 << 20
	DefaultFlushInterval = 5 * time.Second
	// MinSpoolMaxBytes bounds spool_max_bytes from below (spool.MinMaxBytes).
	MinSpoolMaxBytes = 64 << 10
)

// Enabled reports whether events are shipped.
func (c CloudWatch) Enabled() bool { return c.LogGroup != "" }

type cloudWatchFile struct {
	LogGroup      *string `toml:"log_group"`
	Region        *string `toml:"region"`
	Endpoint      *string `toml:"endpoint"`
	CABundle      *string `toml:"ca_bundle"`
	SpoolDir      *string `toml:"spool_dir"`
	SpoolMaxBytes *int64  `toml:"spool_max_bytes"`
	FlushInterval *string `toml:"flush_interval"`
}

var (
	logGroupRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

func defaultCloudWatch() CloudWatch {
	return CloudWatch{SpoolDir: DefaultSpoolDir, SpoolMaxBytes: DefaultSpoolMaxBytes, FlushInterval: DefaultFlushInterval}
}

// parseCloudWatch fills c from [cloudwatch], checking every value.
func parseCloudWatch(f *cloudWatchFile, c *CloudWatch) error {
	if f.LogGroup != nil {
		if !logGroupRE.MatchString(*f.LogGroup) {
			return fmt.Errorf("log_group %q: want a CloudWatch Logs group name such as \"/jitssh/instances\"", *f.LogGroup)
		}
		c.LogGroup = *f.LogGroup
	}
	if f.Region != nil {
		if *f.Region != "" && !regionRE.MatchString(*f.Region) {
			return fmt.Errorf("region %q: want a region such as \"eu-west-1\"", *f.Region)
		}
		c.Region = *f.Region
	}
	if f.Endpoint != nil && *f.Endpoint != "" {
		u, err := url.Parse(*f.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return fmt.Errorf("endpoint %q: want a URL such as \"https://logs.eu-west-1.amazonaws.com\"", *f.Endpoint)
		}
		c.Endpoint = strings.TrimRight(*f.Endpoint, "/")
	}
	for _, p := range []struct {
		name string
		src  *string
		dst  *string
	}{{"ca_bundle", f.CABundle, &c.CABundle}, {"spool_dir", f.SpoolDir, &c.SpoolDir}} {
		if p.src == nil {
			continue
		}
		if (*p.src != "" || p.name == "spool_dir") && (!filepath.IsAbs(*p.src) || filepath.Clean(*p.src) != *p.src || strings.ContainsAny(*p.src, ":\n")) {
			return fmt.Errorf("%s %q must be a clean absolute path", p.name, *p.src)
		}
		*p.dst = *p.src
	}
	if f.SpoolMaxBytes != nil {
		if *f.SpoolMaxBytes < MinSpoolMaxBytes || *f.SpoolMaxBytes > 1<<40 {
			return fmt.Errorf("spool_max_bytes %d: want %d to %d", *f.SpoolMaxBytes, MinSpoolMaxBytes, int64(1<<40))
		}
		c.SpoolMaxBytes = *f.SpoolMaxBytes
	}
	if f.FlushInterval != nil {
		d, err := time.ParseDuration(*f.FlushInterval)
		if err != nil || d < 10*time.Millisecond || d > 10*time.Minute {
			return fmt.Errorf("flush_interval %q: want a duration from 10ms to 10m, such as \"5s\"", *f.FlushInterval)
		}
		c.FlushInterval = d
	}
	return nil
}
