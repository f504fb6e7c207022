package awsapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	sbconfig "github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// describeProjection is what jitssh keeps of a DescribeInstances answer:
// convertInstance of each instance with its reservation's owner, and the
// next page's token.
type describeProjection struct {
	Instances []Instance
	NextToken string
}

func projectDescribe(out *ec2.DescribeInstancesOutput) describeProjection {
	p := describeProjection{NextToken: aws.ToString(out.NextToken)}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			in := convertInstance(i)
			in.OwnerID = aws.ToString(r.OwnerId)
			p.Instances = append(p.Instances, in)
		}
	}
	return p
}

// bodyTransport answers every request with 200 and a fixed body.
type bodyTransport []byte

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
}

// decodeThroughSDK decodes body as an EC2 endpoint's DescribeInstances
// answer through a real SDK client: its own decoder, or (fast) the
// middleware installed by DescribeInstancesPages.
func decodeThroughSDK(body []byte, fast bool) (*ec2.DescribeInstancesOutput, error) {
	c := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:9"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: bodyTransport(body)}, Retryer: aws.NopRetryer{}})
	var opts []func(*ec2.Options)
	if fast {
		opts = append(opts, fastDescribeInstances)
	}
	return c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}, opts...)
}

func describeSamples(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/describeinstances/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// TestDescribeInstancesDecoderMatchesSDK: on real-AWS-shaped answers
// (network interfaces, block devices, entities, self-closing elements,
// empty reservations, no tags, prefixed namespaces, names in other cases,
// repeated fields), the fast decoder accepts and keeps what the SDK's
// decoder gives; through the middleware too.
func TestDescribeInstancesDecoderMatchesSDK(t *testing.T) {
	for name, body := range describeSamples(t) {
		t.Run(name, func(t *testing.T) {
			sdk, err := decodeThroughSDK(body, false)
			if err != nil {
				t.Fatalf("SDK: %v", err)
			}
			fast, ok := decodeDescribeInstances(body)
			if !ok {
				t.Fatal("the fast decoder declined")
			}
			want := projectDescribe(sdk)
			if got := projectDescribe(fast); !reflect.DeepEqual(got, want) {
				t.Errorf("fast decoder:\n got %+v\nwant %+v", got, want)
			}
			mw, err := decodeThroughSDK(body, true)
			if err != nil {
				t.Fatalf("middleware: %v", err)
			}
			if got := projectDescribe(mw); !reflect.DeepEqual(got, want) {
				t.Errorf("middleware:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDescribeInstancesDecoderDeclines: what it does not handle goes to
// the SDK's decoder, which gives the same answer (or error) as without it.
func TestDescribeInstancesDecoderDeclines(t *testing.T) {
	doc := func(inner string) []byte {
		return []byte(`<DescribeInstancesResponse><reservationSet><item><instancesSet><item>` + inner + `</item></instancesSet></item></reservationSet></DescribeInstancesResponse>`)
	}
	for name, body := range map[string][]byte{
		"CDATA":            doc(`<instanceId><![CDATA[i-0a]]></instanceId>`),
		"char reference":   doc(`<instanceId>i-&#48;a</instanceId>`),
		"carriage return":  doc("<tagSet><item><key>k</key><value>a\r\nb</value></item></tagSet>"),
		"unknown entity":   doc(`<instanceId>&nbsp;</instanceId>`),
		"comment in value": doc(`<instanceId>i-0<!-- x -->a</instanceId>`),
		"element in value": doc(`<instanceId><b>i-0a</b></instanceId>`),
		"mismatched end":   doc(`<instanceId>i-0a</instanceID>`),
		"truncated":        doc(`<instanceId>i-0a`)[:60],
		"doctype":          append([]byte(`<!DOCTYPE x>`), doc(`<instanceId>i-0a</instanceId>`)...),
		"latin-1 decl":     append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`), doc(`<instanceId>i-0a</instanceId>`)...),
		"invalid UTF-8":    doc("<instanceId>i-\xff</instanceId>"),
		"empty":            {},
		"non-ASCII name":   doc(`<instanceIdé>x</instanceIdé><instanceId>i-0a</instanceId>`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, ok := decodeDescribeInstances(body); ok {
				t.Fatal("accepted; want declined")
			}
			sdk, sdkErr := decodeThroughSDK(body, false)
			mw, mwErr := decodeThroughSDK(body, true)
			if (sdkErr == nil) != (mwErr == nil) || sdkErr != nil && sdkErr.Error() != mwErr.Error() {
				t.Fatalf("errors differ: SDK %v, middleware %v", sdkErr, mwErr)
			}
			if sdkErr == nil && !reflect.DeepEqual(projectDescribe(sdk), projectDescribe(mw)) {
				t.Fatalf("answers differ: SDK %+v, middleware %+v", projectDescribe(sdk), projectDescribe(mw))
			}
		})
	}
}

// TestDescribeInstancesDecoderErrorAnswer: an error answer still becomes
// the SDK's typed error (the middleware hands it over).
func TestDescribeInstancesDecoderErrorAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		io.WriteString(w, `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors><RequestID>r1</RequestID></Response>`)
	}))
	defer srv.Close()
	c := ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", ""), Retryer: aws.NopRetryer{}})
	_, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}, fastDescribeInstances)
	if err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("err %v, want the SDK's UnauthorizedOperation", err)
	}
}

// wellFormedRoot reports whether encoding/xml reads b's first element to
// its end without a syntax error (what the SDK's decoder reads).
func wellFormedRoot(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth--; depth == 0 {
				return true
			}
		}
	}
}

// FuzzDescribeInstancesDecoder holds the fast decoder to the SDK's: when
// it accepts a document, the SDK's decoder keeps the same of it; or, where
// the SDK fails on a value jitssh does not read (an amiLaunchIndex not a
// number, a leaf of a structure jitssh skips holding an element), the
// document is well-formed XML all the same (malformed XML is always
// declined).
func FuzzDescribeInstancesDecoder(f *testing.F) {
	for _, b := range describeSamples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeDescribeInstances(body)
		if !ok {
			return
		}
		sdk, err := decodeThroughSDK(body, false)
		if err != nil {
			var syn *xml.SyntaxError
			if errors.As(err, &syn) || !wellFormedRoot(body) {
				t.Fatalf("accepted a document the SDK cannot read as XML: %v", err)
			}
			return
		}
		if got, want := projectDescribe(fast), projectDescribe(sdk); !reflect.DeepEqual(got, want) {
			t.Fatalf("fast decoder:\n got %+v\nwant %+v", got, want)
		}
	})
}

// recordingHandler keeps the bodies of the answers it serves.
type recordingHandler struct {
	h    http.Handler
	mu   sync.Mutex
	tees []*teeWriter
}

type teeWriter struct {
	http.ResponseWriter
	mu  *sync.Mutex
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(b)
	w.mu.Unlock()
	return w.ResponseWriter.Write(b)
}

// ServeHTTP records the answer as it is written: a tee registered before
// the handler runs, so that every answer the client has read is in
// Bodies (recording it after the handler returned raced with the client,
// which may have read the whole answer by then).
func (r *recordingHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tw := &teeWriter{ResponseWriter: w, mu: &r.mu}
	r.mu.Lock()
	r.tees = append(r.tees, tw)
	r.mu.Unlock()
	r.h.ServeHTTP(tw, req)
}

// Bodies returns the answers recorded since Reset.
func (r *recordingHandler) Bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.tees))
	for i, tw := range r.tees {
		out[i] = bytes.Clone(tw.buf.Bytes())
	}
	return out
}

// Reset forgets the answers recorded so far.
func (r *recordingHandler) Reset() {
	r.mu.Lock()
	r.tees = nil
	r.mu.Unlock()
}

// TestDescribeInstancesDecoderSandbox: the sandbox's answers (a generated
// fleet of 1,200: two pages, a next token; a filter) decode through
// DescribeInstancesPages the same as through the SDK's decoder.
func TestDescribeInstancesDecoderSandbox(t *testing.T) {
	id := world.Identity{AccessKeyID: "AKIAJITSSHFASTDEC001", SecretAccessKey: "secret-for-the-fast-decoder-test-01234",
		ARN: "arn:aws:iam::123456789012:user/fast", UserID: "AIDAJITSSHFASTDEC001",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: "123456789012"})}}
	fleet := sbconfig.Generate("us-east-1", "node", 1200)
	fleet[3].PublicIP, fleet[3].Platform = "203.0.113.7", "windows"
	fleet[4].Tags["note"] = `a & b <c> "d"`
	w, err := world.New(world.Config{Region: "us-east-1", Account: "123456789012", Identities: []world.Identity{id}, Instances: fleet})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingHandler{h: apis.NewHandler(w, apis.Options{})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	testEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
	t.Setenv("HOME", t.TempDir())
	c, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, filters := range []map[string][]string{nil, {"tag:env": {"prod"}}} {
		rec.Reset()
		got, err := c.DescribeInstances(context.Background(), nil, filters)
		if err != nil {
			t.Fatal(err)
		}
		var want []Instance
		for _, b := range rec.Bodies() {
			sdk, err := decodeThroughSDK(b, false)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, projectDescribe(sdk).Instances...)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("filters %v: %d instances, want the SDK's %d (equal: %v)", filters, len(got), len(want), reflect.DeepEqual(got, want))
		}
	}
}

// awsShapedPage is testdata's AWS-shaped answer with its instances
// repeated to n.
func awsShapedPage(b testing.TB, n int) []byte {
	doc := describeSamples(b)["aws-shaped.xml"]
	start := bytes.Index(doc, []byte("<instancesSet>")) + len("<instancesSet>")
	end := bytes.Index(doc, []byte("</instancesSet>"))
	items := doc[start:end] // two instances
	var page bytes.Buffer
	page.Write(doc[:start])
	for range n / 2 {
		page.Write(items)
	}
	page.Write(doc[end:])
	return page.Bytes()
}

// BenchmarkDescribeInstancesDecoder: one page of 200 AWS-shaped
// instances, decoded by the SDK's decoder and by the fast one (through a
// client, as jitssh calls them).
func BenchmarkDescribeInstancesDecoder(b *testing.B) {
	page := awsShapedPage(b, 200)
	for _, fast := range []bool{false, true} {
		name := "sdk"
		if fast {
			name = "fast"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				out, err := decodeThroughSDK(page, fast)
				if err != nil || len(out.Reservations[0].Instances) != 200 {
					b.Fatal(err)
				}
			}
		})
	}
}
