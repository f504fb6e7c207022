package awsapi

import (
	"context"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// ConfigFile is the AWS shared config file read once, for a command that
// makes clients of many of its profiles (a scope: tens of accounts). The
// SDK parses the whole file for every client it makes, and
// config.LoadDefaultConfig has no way to share one parse: a scope of 50
// profiles in a 100-profile file parsed 28 KB fifty times, a third of the
// CPU of an `ssh --scope all` search. With Options.ConfigFile, New gives
// the SDK a private copy that holds only what the profile can use: every
// section that is not a [profile NAME] section (sso-session, services,
// [default], anything unrecognised), and the [profile NAME] sections of
// the profile and its source_profile chain. A load that fails from the
// copy is made again from the file itself, so errors name the user's
// file.
type ConfigFile struct {
	Path     string
	sections []configSection
}

// configSection is a run of lines of the file: the text before the first
// section, or one section with its header.
type configSection struct {
	profile string   // NAME of a [profile NAME] header; "" for any other
	text    string   // the lines as they are in the file, header included
	sources []string // the source_profile values of a [profile NAME] section
}

// ReadConfigFile reads the shared config file (AWS_CONFIG_FILE, else
// ~/.aws/config); nil when there is none or it cannot be read (New then
// lets the SDK read the files as usual).
func ReadConfigFile() *ConfigFile {
	path := os.Getenv("AWS_CONFIG_FILE")
	if path == "" {
		path = config.DefaultSharedConfigFilename()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	f := parseConfigFile(string(b))
	f.Path = path
	return f
}

// parseConfigFile splits text into sections. A line starts a section
// whenever the SDK could take it for a header (its first non-space
// character is "["), so a section never spans a header the SDK sees; it
// is a [profile NAME] section only when the header is one by the SDK's
// own reading (the text before any "#" or ";", trimmed, in brackets,
// "profile" then blanks then the name).
func parseConfigFile(text string) *ConfigFile {
	f := &ConfigFile{}
	lines := strings.SplitAfter(text, "\n")
	cur := configSection{}
	var b strings.Builder
	flush := func() {
		cur.text = b.String()
		if cur.text != "" {
			f.sections = append(f.sections, cur)
		}
		b.Reset()
	}
	for _, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "[") {
			flush()
			cur = configSection{profile: profileHeader(line)}
		} else if cur.profile != "" {
			if v, ok := sourceProfile(line); ok {
				cur.sources = append(cur.sources, v)
			}
		}
		b.WriteString(line)
	}
	flush()
	return f
}

// profileHeader is NAME when line is a [profile NAME] header as the SDK
// reads one, else "".
func profileHeader(line string) string {
	s := line
	if i := strings.IndexAny(s, "#;"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return ""
	}
	typ, name, ok := strings.Cut(strings.TrimSpace(s[1:len(s)-1]), " ")
	if !ok {
		typ, name, ok = strings.Cut(strings.TrimSpace(s[1:len(s)-1]), "\t")
	}
	if !ok || typ != "profile" {
		return ""
	}
	return strings.TrimLeft(name, " \t")
}

// sourceProfile is the value of a source_profile line (generously: with
// and without quotes, any comment cut off); a name too many only keeps a
// section the SDK would not have used.
func sourceProfile(line string) (string, bool) {
	if line == "" || line[0] == ' ' || line[0] == '\t' {
		return "", false
	}
	for _, c := range []string{" #", " ;", "\t#", "\t;"} {
		line, _, _ = strings.Cut(line, c)
	}
	// "=" unless a ":" comes first, as the SDK splits a property.
	sep := "="
	if eq, colon := strings.Index(line, "="), strings.Index(line, ":"); eq < 0 || colon >= 0 && colon < eq {
		sep = ":"
	}
	k, v, ok := strings.Cut(line, sep)
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "source_profile") {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// only is the file with the [profile NAME] sections of every profile but
// profile and its source_profile chain left out.
func (f *ConfigFile) only(profile string) []byte {
	keep := map[string]bool{profile: true}
	for grew := true; grew; {
		grew = false
		for _, s := range f.sections {
			if s.profile == "" || !keep[s.profile] {
				continue
			}
			for _, src := range s.sources {
				for _, name := range []string{src, strings.Trim(src, `"'`)} {
					if !keep[name] {
						keep[name], grew = true, true
					}
				}
			}
		}
	}
	var b strings.Builder
	for _, s := range f.sections {
		if s.profile == "" || keep[s.profile] {
			b.WriteString(s.text)
			if !strings.HasSuffix(s.text, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	return []byte(b.String())
}

// loadConfig is config.LoadDefaultConfig, given the part of f that
// profile uses when f is the file the SDK would read; from the file
// itself when that fails (the error then names the user's file).
func loadConfig(ctx context.Context, f *ConfigFile, env config.EnvConfig, profile string, lo []func(*config.LoadOptions) error) (aws.Config, error) {
	if f == nil || f.Path != sdkConfigFile(env) {
		return config.LoadDefaultConfig(ctx, lo...)
	}
	tmp, err := os.CreateTemp("", "jitssh-aws-config-*")
	if err != nil {
		return config.LoadDefaultConfig(ctx, lo...)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(f.only(profile))
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		return config.LoadDefaultConfig(ctx, lo...)
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(slices.Clip(lo), config.WithSharedConfigFiles([]string{tmp.Name()}))...)
	if err != nil {
		return config.LoadDefaultConfig(ctx, lo...)
	}
	return cfg, nil
}

// sdkConfigFile is the config file the SDK reads: AWS_CONFIG_FILE, else
// ~/.aws/config.
func sdkConfigFile(env config.EnvConfig) string {
	if env.SharedConfigFile != "" {
		return env.SharedConfigFile
	}
	return config.DefaultSharedConfigFilename()
}
