package awscreds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// PromptTimeout is how long the prompt waits for a code.
const PromptTimeout = 2 * time.Minute

// PromptAttempts is how many malformed codes the prompt takes before it
// gives up (a code AWS refuses is never asked again: retrying with the
// same device would only lock it sooner).
const PromptAttempts = 3

// NoTerminalError is an MFA code needed where there is no terminal to
// ask it on (a proxy started by a program rather than by ssh on a
// terminal, a cron job, CI).
type NoTerminalError struct {
	Profile, Serial string
	// Background: there is a terminal, but jitssh runs in the background
	// of it (a job started with &), where reading it would stop jitssh.
	Background bool
	// MidSession: the code is wanted to go on with a session already
	// under way (WithoutPrompt), where ssh holds the terminal.
	MidSession bool
	Err        error
}

func (e *NoTerminalError) Error() string {
	if e.MidSession {
		return fmt.Sprintf("profile %q needs a new MFA code to go on (its role session expired), and jitssh does not ask for one while ssh holds the terminal", e.Profile)
	}
	if e.Background {
		return fmt.Sprintf("profile %q needs an MFA code and jitssh runs in the background of its terminal", e.Profile)
	}
	return fmt.Sprintf("profile %q needs an MFA code and there is no terminal", e.Profile)
}

func (e *NoTerminalError) Unwrap() error { return e.Err }

type noPromptKey struct{}

// WithoutPrompt marks ctx so that no MFA code is asked for under it: a
// call that needs one fails with a *NoTerminalError (MidSession). For
// calls made while a session is under way (resuming an SSM data
// channel), when ssh has the terminal in raw mode and would read the
// keys typed for the code.
func WithoutPrompt(ctx context.Context) context.Context {
	return context.WithValue(ctx, noPromptKey{}, true)
}

func promptOff(ctx context.Context) bool {
	off, _ := ctx.Value(noPromptKey{}).(bool)
	return off
}

// PromptError is a prompt that got no usable code: no answer in time,
// end of input, or PromptAttempts malformed codes.
type PromptError struct {
	Profile, Serial string
	Reason          string
}

func (e *PromptError) Error() string {
	return fmt.Sprintf("profile %q: no MFA code for %s: %s", e.Profile, e.Serial, e.Reason)
}

// ValidCode reports whether s, trimmed of surrounding spaces, is an MFA
// code (six ASCII digits, what AWS's virtual and hardware TOTP devices
// show) and returns it trimmed.
func ValidCode(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 6 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// Prompter asks for an MFA code.
type Prompter interface {
	Code(profile, serial string) (string, error)
}

// TTYPrompter asks on the controlling terminal, opened directly: a
// proxy's stdin and stdout are ssh's connection, never the user.
type TTYPrompter struct {
	Path    string        // the user's terminal (OpenTerminal) if ""
	Timeout time.Duration // PromptTimeout if 0
	// Before is called before the prompt is written (e.g. to erase a
	// status line drawn on the same terminal).
	Before func()
}

// Code prompts "MFA code for SERIAL (profile P): " on the terminal and
// reads a line, asking again (up to PromptAttempts in all) while the
// answer is not six digits.
func (p TTYPrompter) Code(profile, serial string) (string, error) {
	tty, err := p.open()
	switch {
	case errors.Is(err, ErrBackground):
		return "", &NoTerminalError{Profile: profile, Serial: serial, Background: true}
	case err != nil:
		return "", &NoTerminalError{Profile: profile, Serial: serial, Err: err}
	}
	defer tty.Close()
	if p.Before != nil {
		p.Before()
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = PromptTimeout
	}
	// The deadline interrupts a pending read (a unix terminal is
	// pollable; Windows' console reads through a deadlineReader).
	if err := tty.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", &NoTerminalError{Profile: profile, Serial: serial, Err: err}
	}
	return readCode(tty, tty, profile, serial, timeout)
}

// open opens the user's terminal, or p.Path (tests' ptys) as unix's.
func (p TTYPrompter) open() (Terminal, error) {
	if p.Path == "" {
		return OpenTerminal()
	}
	f, err := os.OpenFile(p.Path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if background(f) {
		f.Close()
		return nil, ErrBackground
	}
	return f, nil
}

// readCode runs the prompt over r and w (the terminal, or a test's).
func readCode(r io.Reader, w io.Writer, profile, serial string, timeout time.Duration) (string, error) {
	in := bufio.NewReaderSize(r, 256)
	for attempt := 1; attempt <= PromptAttempts; attempt++ {
		fmt.Fprintf(w, "MFA code for %s (profile %s): ", serial, profile)
		line, err := in.ReadString('\n')
		if len(line) > 128 {
			line = line[:128]
		}
		if err != nil {
			fmt.Fprint(w, "\r\n")
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				return "", &PromptError{Profile: profile, Serial: serial, Reason: "no answer within " + timeout.String()}
			case errors.Is(err, io.EOF):
				return "", &PromptError{Profile: profile, Serial: serial, Reason: "the terminal closed (end of input)"}
			default:
				return "", &PromptError{Profile: profile, Serial: serial, Reason: err.Error()}
			}
		}
		if code, ok := ValidCode(line); ok {
			return code, nil
		}
		if attempt < PromptAttempts {
			fmt.Fprint(w, "an MFA code is the 6 digits your device shows now; try again\r\n")
		}
	}
	return "", &PromptError{Profile: profile, Serial: serial, Reason: fmt.Sprintf("%d answers that were not 6 digits", PromptAttempts)}
}

// FixedCode is a Prompter that returns one code, given on the command
// line by a script (jitssh login --mfa-code): it is never asked twice.
type FixedCode string

// Code returns the code if it is six digits.
func (c FixedCode) Code(profile, serial string) (string, error) {
	code, ok := ValidCode(string(c))
	if !ok {
		return "", &PromptError{Profile: profile, Serial: serial, Reason: "the code given is not 6 digits"}
	}
	return code, nil
}
