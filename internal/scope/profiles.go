package scope

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Profile is what the AWS config files say of one profile, as far as a
// scope needs it (no credentials are read).
type Profile struct {
	Name   string
	Region string // region = ...
	// Account is the account the profile reaches when the files say so:
	// sso_account_id, or the account of role_arn; "" otherwise (asked of
	// AWS when needed).
	Account    string
	SSOSession string // sso_session = ...
	SSORole    string // sso_role_name = ...
}

// ConfigFiles returns the AWS config and credentials files, as the AWS
// CLI and SDKs find them (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/config and ~/.aws/credentials).
func ConfigFiles() (config, credentials string, err error) {
	home, herr := os.UserHomeDir()
	config, credentials = os.Getenv("AWS_CONFIG_FILE"), os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if (config == "" || credentials == "") && herr != nil {
		return "", "", fmt.Errorf("find the AWS config files: %w", herr)
	}
	if config == "" {
		config = filepath.Join(home, ".aws", "config")
	}
	if credentials == "" {
		credentials = filepath.Join(home, ".aws", "credentials")
	}
	return config, credentials, nil
}

// ReadProfiles returns the profiles of the config file ([default],
// [profile NAME]) and the credentials file ([NAME]), sorted by name. A
// missing file has none.
func ReadProfiles(config, credentials string) ([]Profile, error) {
	byName := map[string]*Profile{}
	get := func(name string) *Profile {
		if byName[name] == nil {
			byName[name] = &Profile{Name: name}
		}
		return byName[name]
	}
	err := readINI(config, func(section string) (string, bool) {
		if section == "default" {
			return section, true
		}
		name, ok := strings.CutPrefix(section, "profile ")
		return strings.TrimSpace(name), ok
	}, func(name, key, value string) {
		p := get(name)
		switch key {
		case "region":
			p.Region = value
		case "sso_account_id":
			p.Account = value
		case "role_arn":
			if a := arnAccount(value); a != "" {
				p.Account = a
			}
		case "sso_session":
			p.SSOSession = value
		case "sso_role_name":
			p.SSORole = value
		}
	})
	if err != nil {
		return nil, err
	}
	err = readINI(credentials, func(section string) (string, bool) { return section, true }, func(name, _, _ string) { get(name) })
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(byName))
	for _, p := range byName {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// arnAccount is the account of arn:PARTITION:iam::ACCOUNT:role/NAME.
func arnAccount(arn string) string {
	f := strings.Split(arn, ":")
	if len(f) < 6 || f[0] != "arn" || len(f[4]) != 12 || strings.Trim(f[4], "0123456789") != "" {
		return ""
	}
	return f[4]
}

// readINI calls set for each key of each section that name accepts.
func readINI(path string, name func(section string) (string, bool), set func(profile, key, value string)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read AWS config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	current, ok := "", false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			current, ok = name(strings.TrimSpace(line[1 : len(line)-1]))
			if ok {
				set(current, "", "")
			}
		case ok:
			if k, v, found := strings.Cut(line, "="); found {
				set(current, strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read AWS config %s: %w", path, err)
	}
	return nil
}

// Expand returns the profiles whose names match any of globs, in the
// order of profiles, each once. A glob without wildcards that names no
// profile is kept (the SDK may know it from elsewhere, and its error says
// so when it is used).
func Expand(profiles []Profile, globs []string) []Profile {
	var out []Profile
	seen := map[string]bool{}
	for _, p := range profiles {
		for _, g := range globs {
			if Match(g, p.Name) && !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p)
			}
		}
	}
	for _, g := range globs {
		if !strings.ContainsAny(g, "*?") && !seen[g] {
			seen[g] = true
			out = append(out, Profile{Name: g})
		}
	}
	return out
}
