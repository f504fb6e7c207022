package hostcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/service"
	"github.com/jitssh/jitssh/internal/host/userdb"
)

func newUserdbCmd(stderr io.Writer) *cobra.Command {
	var configPath, socketDir string
	cmd := &cobra.Command{
		Use:   "userdb [--config PATH]",
		Short: "Serve just-in-time users to glibc through systemd's userdb (nss-systemd)",
		Long: `userdb is the just-in-time user service. It listens on
` + userdb.Dir + `/<service> (service from [jit] in the configuration, default
` + hostconfig.DefaultService + `) and answers io.systemd.UserDatabase calls, which glibc's
nss-systemd sends for every getpwnam/getpwuid/getgrnam/initgroups that
/etc/passwd and /etc/group cannot answer ("passwd: files systemd" in
/etc/nsswitch.conf).

A user is created on its first lookup, and only if IMDS holds a valid,
verified EC2 Instance Connect key for that name right now: the same checks
as authorized-keys. Names must be lower-case POSIX names of at most 32
characters, and never shadow /etc/passwd, /etc/group or a reserved name.
UIDs are derived from the name (the same on every host) in [jit] uid_min..
uid_max and never reused; the home directory is made from /etc/skel;
supplementary groups come from [[jit.groups]] rules on the key's IAM caller.

It also answers io.jitssh.Keys on keys_socket (default
/run/jitssh/io.jitssh.Keys, root only) for jitssh-authkeys, sshd's
AuthorizedKeysCommand: every call verifies the user's keys as
authorized-keys does and records each key served, reusing the verified
signer chain (at most 5 minutes), an IMDS client and its token.

Anyone may look up names, so the service bounds what they cause: key
lookups, root's lookups (sshd's) and other users' lookups each have their
own IMDS client; other users' verifications are rate-limited per uid and
their misses remembered (negative_ttl), root's never; connections are
capped per uid and in total, messages to 4 KiB and 2 s (docs/instance.md,
"Limits and priorities").

It runs as root under systemd (jitssh-userdb.service, see install) and logs
to stderr; users created, keys served and refusals go to the audit trail.`,
		Example: `  jitssh-host userdb
  jitssh-host userdb --config /etc/jitssh/host.toml
  SYSTEMD_LOG_LEVEL=debug getent passwd alice   # watch nss-systemd ask it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUserdb(cmd.Context(), stderr, configPath, socketDir)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	cmd.Flags().StringVar(&socketDir, "socket-dir", userdb.Dir, "directory of the socket (nss-systemd only reads "+userdb.Dir+")")
	return cmd
}

func runUserdb(ctx context.Context, stderr io.Writer, configPath, socketDir string) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := service.Run(ctx, service.Options{ConfigPath: configPath, SocketDir: socketDir, Log: log}); err != nil {
		return refused(err)
	}
	return nil
}

// refused is a run failure: err on one line, exit status ExitRefused.
func refused(err error) error {
	return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
}

func newUsersCmd(stdout io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, remove and block just-in-time users, and end their sessions",
		Long: `users manages the users the userdb service created (never any other).

  list            the JIT users, their UIDs, groups, creation and last-seen times
  remove NAME...  kill NAME's processes, delete the home directory and the user;
                  the UID stays retired: never given to another name
  kill NAME...    the incident-response step: SIGKILL every process of NAME,
                  including sshd's session processes, ending every SSH session,
                  until none is left (the user may log in again with a new key)
  block NAME...   put NAME on the block list (block_file, default
                  ` + hostconfig.DefaultBlockFile + `): no EC2 Instance Connect key is served
                  for it and it is never created, until unblock; block first,
                  then kill or remove, or the next login undoes the remove
  unblock NAME... take NAME off the block list
  blocked         print the block list`,
		Example: `  jitssh-host users list
  jitssh-host users list --output json
  jitssh-host users kill alice
  jitssh-host users block alice && jitssh-host users remove alice
  jitssh-host users unblock alice`,
	}
	cmd.PersistentFlags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	cmd.AddCommand(newUsersListCmd(stdout, &configPath), newUsersRemoveCmd(stdout, &configPath), newUsersKillCmd(stdout, &configPath),
		newUsersBlockCmd(stdout, &configPath, "block NAME...", "Block names: no key is served for them and they are never created", true),
		newUsersBlockCmd(stdout, &configPath, "unblock NAME...", "Take names off the block list", false),
		newUsersBlockedCmd(stdout, &configPath))
	return cmd
}

func newUsersListCmd(stdout io.Writer, configPath *string) *cobra.Command {
	var output string
	list := &cobra.Command{
		Use:   "list [--output text|json]",
		Short: "List just-in-time users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := service.OpenAdmin(*configPath)
			if err != nil {
				return refused(err)
			}
			defer m.Close()
			st, err := m.State()
			if err != nil {
				return refused(err)
			}
			recs := st.Sorted()
			switch output {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			case "text":
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tUID\tGROUPS\tCREATED\tLAST SEEN\tCALLER")
				for _, r := range recs {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, r.UID, strings.Join(r.Groups, ","),
						r.Created.UTC().Format(time.RFC3339), r.LastSeen.UTC().Format(time.RFC3339), r.Caller)
				}
				return tw.Flush()
			}
			return fmt.Errorf("--output %q: want text or json", output)
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return list
}

func newUsersRemoveCmd(stdout io.Writer, configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove just-in-time users (kills their processes first)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := service.OpenAdmin(*configPath)
			if err != nil {
				return refused(err)
			}
			defer m.Close()
			var errs []string
			for _, name := range args {
				r, err := m.Remove(name)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintf(stdout, "removed %s (uid %d, home %s)\n", r.Name, r.UID, r.Home)
			}
			return refusedAll(errs)
		},
	}
}

func newUsersKillCmd(stdout io.Writer, configPath *string) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:   "kill [--if-exists] NAME...",
		Short: "Kill every process of users, ending their SSH sessions",
		Long: `kill SIGKILLs every process of each NAME (a just-in-time user, or else a
user of /etc/passwd other than root) until none is left.

--if-exists makes a NAME the instance does not have a success with
nothing to kill (jitssh revoke sends it to every instance of a fleet).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := service.OpenAdmin(*configPath)
			if err != nil {
				return refused(err)
			}
			defer m.Close()
			st, err := m.State()
			if err != nil {
				return refused(err)
			}
			var errs []string
			for _, name := range args {
				k, err := m.Kill(st, name)
				if ifExists && errors.Is(err, service.ErrNoSuchUser) {
					fmt.Fprintf(stdout, "%s: no such user here; nothing to kill\n", name)
					continue
				}
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintf(stdout, "killed %d processes of %s (uid %d)\n", k.Processes, k.Name, k.UID)
			}
			return refusedAll(errs)
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "a NAME the instance does not have is not an error")
	return cmd
}

// refusedAll is nil without errs, else a run failure listing them.
func refusedAll(errs []string) error {
	if len(errs) > 0 {
		return &exitError{code: ExitRefused, msg: oneLine(strings.Join(errs, "; "))}
	}
	return nil
}

func newUsersBlockCmd(stdout io.Writer, configPath *string, use, short string, block bool) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			verb := "blocked"
			if !block {
				verb = "unblocked"
			}
			changed, err := service.SetBlocked(*configPath, block, args, func(name string) {
				fmt.Fprintf(stdout, "%s %s\n", verb, name)
			})
			if err != nil {
				return refused(err)
			}
			for _, name := range args {
				if !slices.Contains(changed, name) {
					fmt.Fprintf(stdout, "%s was already %s\n", name, verb)
				}
			}
			return nil
		},
	}
}

func newUsersBlockedCmd(stdout io.Writer, configPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "blocked",
		Short: "Print the block list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := service.Blocked(*configPath)
			if err != nil {
				return refused(err)
			}
			for _, n := range names {
				fmt.Fprintln(stdout, n)
			}
			return nil
		},
	}
}
