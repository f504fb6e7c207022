package hostcli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/host/install"
)

func layoutFlags(cmd *cobra.Command, l *install.Layout) {
	cmd.Flags().StringVar(&l.Root, "root", "", "install under this directory instead of / (packaging; implies --no-start)")
	cmd.Flags().StringVar(&l.Bin, "bin", l.Bin, "path of jitssh-host as sshd and systemd see it")
	cmd.Flags().StringVar(&l.AuthKeysBin, "authkeys-bin", l.AuthKeysBin, `path of jitssh-authkeys as sshd sees it; jitssh-authkeys-c next to it is used instead ("" = sshd runs jitssh-host authorized-keys)`)
	cmd.Flags().StringVar(&l.UnitDir, "unit-dir", l.UnitDir, "systemd unit directory")
}

func newInstallCmd(stdout, stderr io.Writer) *cobra.Command {
	l := install.DefaultLayout()
	var noStart bool
	cmd := &cobra.Command{
		Use:   "install [--no-start] [--root DIR]",
		Short: "Set up sshd and the just-in-time user service on this machine",
		Long: `install writes
  ` + l.DropIn + `   AuthorizedKeysCommand, UsePAM yes
  ` + l.UnitDir + "/" + install.UnitName + `   the userdb service
  ` + l.Config + `                    only if absent (yours to edit)
creates /var/lib/jitssh and /var/log/jitssh, checks /etc/nsswitch.conf
(printing the exact fix if nss-systemd is missing), checks the sshd
configuration with sshd -t, enables and starts the service and reloads sshd.
Files it did not write are never replaced. Run it as root.`,
		Example: `  sudo jitssh-host install
  jitssh-host install --root ./pkgroot --unit-dir /lib/systemd/system   # for packaging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if l.Root == "" {
				if problems := install.CheckNSS("/"); len(problems) > 0 {
					for _, p := range problems {
						fmt.Fprintf(stderr, "jitssh-host: %s\n  fix: %s\n", p.What, p.Fix)
					}
					return &exitError{code: ExitRefused, msg: "nss-systemd is not set up: apply the fix above and run install again"}
				}
			}
			if l.Root == "" && l.AuthKeysBin != "" {
				if _, err := os.Stat(l.AuthKeysBin); err != nil {
					fmt.Fprintf(stderr, "jitssh-host: %s is not installed: sshd will run %s authorized-keys (slower per login)\n", l.AuthKeysBin, l.Bin)
					l.AuthKeysBin = ""
				}
			}
			// jitssh-authkeys-c, when installed next to jitssh-authkeys.
			l = l.WithCClient()
			did, err := install.Install(l, install.Options{Start: !noStart && l.Root == ""})
			for _, d := range did {
				fmt.Fprintln(stdout, d)
			}
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			return nil
		},
	}
	layoutFlags(cmd, &l)
	cmd.Flags().BoolVar(&noStart, "no-start", false, "write files only: do not run sshd -t, systemctl or reload sshd")
	return cmd
}

func newUninstallCmd(stdout io.Writer) *cobra.Command {
	l := install.DefaultLayout()
	var noStop bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the sshd drop-in and the userdb service (keeps config, state, homes, audit)",
		Long: `uninstall stops and disables the userdb service, removes the files install
wrote (only those carrying its marker) and reloads sshd. The configuration
file, /var/lib/jitssh (the UIDs given out), home directories and the audit
trail stay. Just-in-time users stop resolving once the service is gone.`,
		Example: `  sudo jitssh-host uninstall`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			did, err := install.Uninstall(l, install.Options{Start: !noStop && l.Root == ""})
			for _, d := range did {
				fmt.Fprintln(stdout, d)
			}
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			return nil
		},
	}
	layoutFlags(cmd, &l)
	cmd.Flags().BoolVar(&noStop, "no-stop", false, "remove files only: do not run systemctl")
	return cmd
}

func newUserDataCmd(stdout io.Writer) *cobra.Command {
	l := install.DefaultLayout()
	var pkgURL, configFile string
	cmd := &cobra.Command{
		Use:   "user-data [--package-url URL] [--config-file FILE]",
		Short: "Print cloud-init user data that installs jitssh-host at launch",
		Long: `user-data prints #cloud-config for EC2 launch templates: it writes the
configuration (from --config-file), installs the package from --package-url
(a .deb or .rpm; without it the image must already hold ` + l.Bin + `)
and runs jitssh-host install.`,
		Example: `  jitssh-host user-data --package-url https://example.com/jitssh-host_0.1.0_amd64.deb > user-data.yaml
  aws ec2 run-instances ... --user-data file://user-data.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var conf string
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
				}
				conf = string(b)
			}
			ud, err := install.UserData(l, pkgURL, conf)
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			_, err = io.WriteString(stdout, ud)
			return err
		},
	}
	cmd.Flags().StringVar(&pkgURL, "package-url", "", "URL of the jitssh-host .deb or .rpm")
	cmd.Flags().StringVar(&configFile, "config-file", "", "host.toml to put on the instance")
	return cmd
}
