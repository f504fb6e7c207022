package apis

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	sbconfig "github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// scaleEnv is an API endpoint over the built-in identities and 10,000
// generated instances, as `jitssh-sandbox up --generate 10000` runs.
func scaleEnv(tb testing.TB, n int) (*httptest.Server, world.Identity, *world.World) {
	tb.Helper()
	a, err := sbconfig.Builtin().Resolve("tester")
	if err != nil {
		tb.Fatal(err)
	}
	w, err := world.New(world.Config{Region: a.Region, Account: a.Account, Identities: a.Identities, SCPs: a.SCPs,
		Instances: sbconfig.Generate(a.Region, "node", n)})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(w, Options{}))
	tb.Cleanup(srv.Close)
	return srv, a.Identities[0], w
}

// sdkConfig returns an SDK config signing as id against url.
func sdkConfig(tb testing.TB, url string, id world.Identity) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, "")),
		config.WithBaseEndpoint(url),
		config.WithRetryer(testRetryer),
		config.WithHTTPClient(noKeepAlive()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func TestDescribeInstancesTenThousand(t *testing.T) {
	t.Parallel()
	const n = 10_000
	srv, id, _ := scaleEnv(t, n)
	client := ec2.NewFromConfig(sdkConfig(t, srv.URL, id))
	ctx := context.Background()

	start := time.Now()
	p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
	seen := map[string]bool{}
	pages, last := 0, ""
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		count := 0
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				id := aws.ToString(in.InstanceId)
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				if id <= last {
					t.Fatalf("%s after %s: not in order", id, last)
				}
				seen[id], last = true, id
				count++
			}
		}
		if count > 1000 {
			t.Fatalf("page %d has %d instances, more than MaxResults", pages, count)
		}
	}
	if len(seen) != n || pages != 10 {
		t.Fatalf("listed %d instances in %d pages, want %d in 10", len(seen), pages, n)
	}
	for _, in := range sbconfig.Generate("us-east-1", "node", n) {
		if !seen[in.ID] {
			t.Fatalf("%s missing", in.ID)
		}
	}
	t.Logf("10,000 instances in 10 pages: %v", time.Since(start))

	// A filtered call over the whole fleet: running prod web servers in
	// us-east-1b whose name starts with node-01.
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:env"), Values: []string{"prod"}},
		{Name: aws.String("tag:Name"), Values: []string{"node-01*"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
		{Name: aws.String("availability-zone"), Values: []string{"us-east-1a"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, in := range sbconfig.Generate("us-east-1", "node", n) {
		if in.Tags["env"] == "prod" && in.Name() >= "node-01" && in.Name() < "node-02" && in.State == "running" && in.AZ == "us-east-1a" {
			want++
		}
	}
	got := 0
	for _, r := range out.Reservations {
		got += len(r.Instances)
	}
	if got != want || want == 0 {
		t.Errorf("filtered: %d instances, want %d", got, want)
	}
}

// BenchmarkDescribeInstancesFiltered measures one filtered DescribeInstances
// over 10,000 instances through the real SDK: signing, SigV4 verification,
// IAM evaluation, filtering, XML encoding and decoding.
func BenchmarkDescribeInstancesFiltered(b *testing.B) {
	for _, n := range []int{10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			srv, id, _ := scaleEnv(b, n)
			cfg := sdkConfig(b, srv.URL, id)
			client := ec2.NewFromConfig(cfg)
			in := &ec2.DescribeInstancesInput{Filters: []types.Filter{
				{Name: aws.String("tag:env"), Values: []string{"prod"}},
				{Name: aws.String("tag:Name"), Values: []string{"node-01*"}},
				{Name: aws.String("instance-state-name"), Values: []string{"running"}},
			}}
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.DescribeInstances(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDescribeInstancesPage measures one unfiltered page of 1000
// instances out of 10,000.
func BenchmarkDescribeInstancesPage(b *testing.B) {
	srv, id, _ := scaleEnv(b, 10_000)
	client := ec2.NewFromConfig(sdkConfig(b, srv.URL, id))
	in := &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)}
	for b.Loop() {
		if _, err := client.DescribeInstances(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
