package sshconfig

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// # Windows
//
// Win32-OpenSSH (the ssh.exe of Windows 10 and 11) reads ssh_config as
// OpenSSH does, but starts a ProxyCommand without a shell: it drops the
// "exec " that it puts before the command and hands the rest, after %
// expansion, to CreateProcessW as the command line, unchanged when it
// starts with a double quote (contrib/win32/win32compat: posix_spawnp,
// build_commandline_string). The program then splits its own command
// line (Go: the Microsoft C runtime's rules). Shell quoting is therefore
// wrong there: '%r' would reach jitssh with its single quotes. The
// Windows ProxyCommand is
//
//	"C:\Program Files\jitssh\jitssh.exe" proxy -- "%r" "%h" %p
//
// The path in double quotes, as CreateProcess wants a program path with
// spaces (a Windows path cannot hold a '"'; '%' is doubled for ssh), and
// non-ASCII characters as they are: ssh converts the UTF-8 line to UTF-16.
// %r and %h are double-quoted, and "--" ends jitssh's flags: a user or host
// name given to ssh can then neither add a flag nor, having no shell to
// reach, run anything; one holding a '"' or a space at most changes the
// number of arguments, which `jitssh proxy` refuses.

// windowsProxyArgs follows the quoted jitssh path in the Windows ProxyCommand.
const windowsProxyArgs = `proxy -- "%r" "%h" %p`

// forWindows reports whether the settings are for Win32-OpenSSH.
func (o Options) forWindows() bool {
	goos := o.OS
	if goos == "" {
		goos = runtime.GOOS
	}
	return goos == "windows"
}

// proxyCommand is the ProxyCommand value running o.JitsshPath: for a
// shell on unix, for CreateProcess on Windows.
func (o Options) proxyCommand() (string, error) {
	scope := ""
	if o.Scope != "" {
		if !safeWord(o.Scope) {
			return "", fmt.Errorf("scope %q: use letters, digits and _ . @ + -", o.Scope)
		}
		scope = " --scope " + o.Scope
	}
	if o.forWindows() {
		q, err := QuoteWindowsProgram(o.JitsshPath)
		if err != nil {
			return "", err
		}
		return q + " " + strings.Replace(windowsProxyArgs, "proxy", "proxy"+scope, 1), nil
	}
	q, err := QuoteShell(o.JitsshPath)
	if err != nil {
		return "", err
	}
	return q + " " + strings.Replace(proxyArgs, "proxy", "proxy"+scope, 1), nil
}

// safeWord: [A-Za-z0-9_.@+-]{1,128}, which neither a shell, CreateProcess
// nor ssh's % expansion changes.
func safeWord(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.@+-", c) >= 0) {
			return false
		}
	}
	return true
}

// QuoteWindowsProgram quotes a program path for the start of a command
// line that ssh expands (% doubled) and Windows' CreateProcess then
// splits: in double quotes, which a Windows path cannot contain (one that
// does is refused, as are control characters).
func QuoteWindowsProgram(p string) (string, error) {
	if err := checkChars(p); err != nil {
		return "", err
	}
	if strings.Contains(p, `"`) {
		return "", fmt.Errorf("program path %q contains a double quote, which a Windows command line cannot hold in a program name", p)
	}
	return `"` + strings.ReplaceAll(p, "%", "%%") + `"`, nil
}

// isAbs reports whether p is absolute for the platform of o: on Windows
// a drive letter and a separator (C:\ or C:/) or a UNC path (\\server\share).
func (o Options) isAbs(p string) bool {
	if !o.forWindows() {
		return strings.HasPrefix(p, "/")
	}
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		c := p[0] | 0x20
		return c >= 'a' && c <= 'z'
	}
	return strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

// dirPrefix is dir with one trailing separator, for a file name to follow.
func (o Options) dirPrefix(dir string) string {
	if o.forWindows() {
		return strings.TrimRight(dir, `\/`) + `\`
	}
	return strings.TrimSuffix(filepath.Clean(dir), "/") + "/"
}
