package trail

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// GenerateSpec describes synthetic CloudTrail records for scale: Count
// records spread evenly over [Start, End), by Users role sessions named
// PREFIX-0001 … of role RoleName, on Instances instances i-0f…01 …. The
// same spec always yields the same records.
type GenerateSpec struct {
	Count     int
	Users     int    // default 500
	Instances int    // default 200
	Prefix    string // default "user"
	Start     time.Time
	End       time.Time // default Start + 24h
	Seed      uint64
	Region    string
	Account   string
	RoleName  string // default "JitsshDeveloper"
}

// MaxGenerate bounds GenerateSpec.Count.
const MaxGenerate = 1_000_000

// generatedMix is the share, per mille, of each event name: mostly reads,
// as in a real account, then the calls jitssh audit follows.
var generatedMix = []struct {
	service, name string
	perMille      int
}{
	{"ec2", "DescribeInstances", 300},
	{"sts", "GetCallerIdentity", 150},
	{"ssm", "DescribeInstanceInformation", 100},
	{"ec2-instance-connect", "SendSSHPublicKey", 150},
	{"ssm", "StartSession", 100},
	{"ssm", "TerminateSession", 100},
	{"ssm", "SendCommand", 50},
	{"ec2-instance-connect", "OpenTunnel", 50},
}

// Generated is a generated record and, for SendSSHPublicKey, the key it
// pushed (authorized_keys form), so a test can write the matching
// instance events.
type Generated struct {
	Event
	PublicKey string
	OSUser    string
	Instance  string
}

// Generate returns the records of s in time order. One in 25 is denied
// (AccessDeniedException).
func Generate(s GenerateSpec) ([]Generated, error) {
	if s.Count < 0 || s.Count > MaxGenerate {
		return nil, fmt.Errorf("generated CloudTrail events: count %d: want 0 to %d", s.Count, MaxGenerate)
	}
	if s.Users <= 0 {
		s.Users = 500
	}
	if s.Instances <= 0 {
		s.Instances = 200
	}
	if s.Prefix == "" {
		s.Prefix = "user"
	}
	if s.End.IsZero() || !s.End.After(s.Start) {
		s.End = s.Start.Add(24 * time.Hour)
	}
	if s.RoleName == "" {
		s.RoleName = "JitsshDeveloper"
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x6a697473))
	span := s.End.Sub(s.Start)
	out := make([]Generated, s.Count)
	open := map[string][]string{} // user → sessions started and not yet ended
	for i := range out {
		t := s.Start.Add(time.Duration(int64(span) / int64(s.Count) * int64(i)))
		pick := rng.IntN(1000)
		m := generatedMix[0]
		for _, c := range generatedMix {
			if pick < c.perMille {
				m = c
				break
			}
			pick -= c.perMille
		}
		user := fmt.Sprintf("%s-%04d", s.Prefix, rng.IntN(s.Users)+1)
		instance := fmt.Sprintf("i-0f%015x", rng.IntN(s.Instances)+1)
		e := New(t, m.service, m.name, s.Region, s.Account)
		arn := "arn:aws:sts::" + s.Account + ":assumed-role/" + s.RoleName + "/" + user
		e.UserIdentity = Identity(arn, "AROAGENERATED0000000:"+user, s.Account, fmt.Sprintf("ASIAGEN%013d", rng.IntN(1e12))).WithSession(t.Add(-time.Hour), false)
		e.SourceIPAddress = "127.0.0.1"
		e.UserAgent = "jitssh-sandbox/generated"
		e.RequestID = uuidFrom(rng)
		e.EventID = uuidFrom(rng)
		g := Generated{Event: e}
		switch m.name {
		case "SendSSHPublicKey":
			var seed [32]byte
			for j := range seed {
				seed[j] = byte(rng.Uint32())
			}
			pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
			g.PublicKey = authorizedKey(pub)
			g.OSUser, g.Instance = user, instance
			g.RequestParameters = map[string]any{"instanceId": instance, "instanceOSUser": user, "sSHPublicKey": g.PublicKey}
		case "StartSession":
			g.Instance = instance
			g.RequestParameters = map[string]any{"target": instance}
			g.ResponseElements = map[string]any{"sessionId": user + "-" + e.RequestID[:17]}
			open[user] = append(open[user], user+"-"+e.RequestID[:17])
		case "TerminateSession":
			// the person ends a session of theirs, the oldest open one
			id := user + "-" + e.RequestID[:17]
			if l := open[user]; len(l) > 0 {
				id, open[user] = l[0], l[1:]
			}
			g.RequestParameters = map[string]any{"sessionId": id}
		case "SendCommand":
			g.RequestParameters = map[string]any{"instanceIds": []any{instance}, "documentName": "AWS-RunShellScript"}
		case "OpenTunnel":
			g.RequestParameters = map[string]any{"instanceConnectEndpointId": "eice-0f000000000000001", "remotePort": "22", "privateIpAddress": "10.0.1.10"}
		}
		if rng.IntN(25) == 0 {
			g.ErrorCode = "AccessDenied"
			if m.service == "ssm" || m.service == "ec2-instance-connect" {
				g.ErrorCode = "AccessDeniedException"
			}
			g.ErrorMessage = "User: " + arn + " is not authorized to perform: " + m.service + ":" + m.name
			g.ResponseElements = nil
		}
		out[i] = g
	}
	return out, nil
}

func uuidFrom(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

// authorizedKey formats an Ed25519 public key as an authorized_keys line.
func authorizedKey(pub ed25519.PublicKey) string {
	const name = "ssh-ed25519"
	b := make([]byte, 0, 51)
	b = append(b, 0, 0, 0, byte(len(name)))
	b = append(b, name...)
	b = append(b, 0, 0, 0, byte(len(pub)))
	b = append(b, pub...)
	return name + " " + base64.StdEncoding.EncodeToString(b)
}

// WriteGenerated appends the records of s to l.
func (l *Log) WriteGenerated(s GenerateSpec) (int, error) {
	gs, err := Generate(s)
	if err != nil {
		return 0, err
	}
	for i := range gs {
		if err := l.Write(gs[i].Event); err != nil {
			return i, err
		}
	}
	return len(gs), nil
}
