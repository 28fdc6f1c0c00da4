package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchauth/latch/internal/config"
)

// usageError is a mistake in how latch was called: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// errSilent has already been reported to the user; exit 1 without saying
// more.
var errSilent = errors.New("")

// exitStatus is the process exit status for run's result: 0 on success, 2
// for bad usage, 1 for any other error.
func exitStatus(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// env is what every command gets from run: the process's surroundings,
// passed in so tests can run commands in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// configFile and flags are filled from the command line.
	configFile string
	flags      *pflag.FlagSet
	// quiet raises the log level to warnings for admin commands.
	quiet bool
	// ready, if set, receives the listening address once serve accepts
	// connections (tests use it instead of polling).
	ready func(addr string)
}

// run executes one latch command line and reports its error on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runWith(ctx, &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

func runWith(ctx context.Context, e *env, args []string) error {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(e.stderr, "latch:", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(e.stderr, "Run 'latch --help' for usage.")
		}
	}
	return err
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "latch",
		Short: "latch is a self-hosted user-authentication server",
		Long: `latch registers users with an email and a password, signs them in with
short-lived signed access tokens (JWT) and rotating refresh tokens, and
publishes its keys so that any service can verify those tokens.

It runs on an embedded SQLite database by default (sqlite:latch.db) and on
PostgreSQL (LATCH_DATABASE_URL=postgres://...). Settings come from
defaults < --config FILE < LATCH_* environment < flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("a command is required (serve, migrate, user, keys, audit, healthcheck, version)")}
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&e.configFile, "config", "", "YAML configuration file")
	for _, s := range config.Settings() {
		root.PersistentFlags().String(s.Flag(), "", fmt.Sprintf("%s (env %s, default %q)", s.Usage, s.Env(), s.Default))
	}
	e.flags = root.PersistentFlags()
	root.AddCommand(newServe(e), newMigrate(e), newUser(e), newKeys(e), newVersion(e), newHealthcheck(e), newAudit(e))
	return root
}

// usageArgs turns an argument-count error into a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s needs a subcommand; see '%s --help'", cmd.CommandPath(), cmd.CommandPath())}
		},
	}
	c.AddCommand(subs...)
	return c
}

// loadConfig reads the configuration from the file, the environment and
// the flags the user set.
func (e *env) loadConfig() (config.Config, error) {
	flags := map[string]string{}
	for _, s := range config.Settings() {
		if f := e.flags.Lookup(s.Flag()); f != nil && f.Changed {
			flags[s.Name] = f.Value.String()
		}
	}
	file := e.configFile
	if file == "" {
		file = e.getenv("LATCH_CONFIG")
	}
	return config.Load(config.Sources{File: file, Getenv: e.getenv, Flags: flags})
}

// version is the module version or VCS revision the binary was built from.
func version() (ver, revision string) {
	ver, revision = "(devel)", "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, revision
	}
	if info.Main.Version != "" {
		ver = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return ver, revision
}

func newVersion(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of latch",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, rev := version()
			fmt.Fprintf(e.stdout, "latch %s (commit %s, %s)\n", v, rev, goVersion())
			return nil
		},
	}
}

func goVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.GoVersion
	}
	return "go"
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
