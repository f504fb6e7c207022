package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagUsageHasNoBackquotes: pflag takes a `quoted` word in a flag's
// usage as the name of its value, so `--help` printed "--user jitssh ssh"
// (doctor) and dropped the quotes from the text.
func TestFlagUsageHasNoBackquotes(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if strings.Contains(f.Usage, "`") {
					t.Errorf("%s --%s: usage %q has a backquote: --help shows its quoted text as the value's name", c.CommandPath(), f.Name, f.Usage)
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot(IOStreams{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}}))
}

// TestDoctorKeepsMultilineDetailsInTheirColumn: an AWS error with its
// advice on a second line (doctor TARGET without ec2:DescribeInstances)
// printed that line, and the next warning, from column 0.
func TestDoctorKeepsMultilineDetailsInTheirColumn(t *testing.T) {
	var b strings.Builder
	printChecks(&b, []check{
		{Name: "region", Status: "ok", Detail: "us-east-1"},
		{Name: "instance", Status: "fail", Detail: "resolve web-1: ec2:DescribeInstances failed: UnauthorizedOperation: no\n  your IAM identity is not allowed ec2:DescribeInstances", Fix: "one\ntwo"},
	})
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "OK    ") && !strings.HasPrefix(line, "FAIL  ") && !strings.HasPrefix(line, strings.Repeat(" ", 21)) {
			t.Errorf("line outside the detail column: %q\n%s", line, b.String())
		}
	}
}
