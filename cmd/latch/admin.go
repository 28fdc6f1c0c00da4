package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/latchauth/latch/internal/app"
	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

func newMigrate(e *env) *cobra.Command {
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  usageArgs(cobra.NoArgs),
		RunE: e.runWithStore(func(ctx context.Context, db store.Store, _ []string) error {
			if err := db.Migrate(ctx); err != nil {
				return err
			}
			st, err := db.MigrationStatus(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "database is at version %d\n", st.Current)
			return nil
		}),
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  usageArgs(cobra.NoArgs),
		RunE: e.runWithStore(func(ctx context.Context, db store.Store, _ []string) error {
			st, err := db.MigrationStatus(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
			for _, m := range st.Migrations {
				applied := "pending"
				if !m.AppliedAt.IsZero() {
					applied = m.AppliedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
			}
			tw.Flush()
			fmt.Fprintf(e.stdout, "database version %d, binary version %d\n", st.Current, st.Latest)
			if st.Current > st.Latest {
				return store.ErrDatabaseTooNew
			}
			return nil
		}),
	}
	c := group("migrate", "Apply or list database migrations (bare 'migrate' applies them)", up, status)
	c.RunE = up.RunE
	return c
}

// withStore opens the database without migrating, for the migrate
// commands.
func (e *env) withStore(ctx context.Context, fn func(store.Store) error) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	db, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	return fn(db)
}

// runWithStore is the RunE of a command that runs fn on the database
// (withStore), with the command's context and arguments.
func (e *env) runWithStore(fn func(ctx context.Context, db store.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return e.withStore(cmd.Context(), func(db store.Store) error { return fn(cmd.Context(), db, args) })
	}
}

// runWithApp is the RunE of an admin command that runs fn against the
// migrated database (withApp), with the command's context and arguments.
func (e *env) runWithApp(fn func(ctx context.Context, a *app.Latch, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return e.withApp(cmd.Context(), func(a *app.Latch) error { return fn(cmd.Context(), a, args) })
	}
}

// withApp runs an admin command against a migrated database. Its log
// shows warnings and errors only, so that the command's own output stands
// out.
func (e *env) withApp(ctx context.Context, fn func(*app.Latch) error) error {
	e.quiet = true
	a, _, err := e.openApp(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

func newUser(e *env) *cobra.Command {
	disable := userAction(e, "disable", "Disable a user and end all their sessions", "disabled", func(ctx context.Context, a *app.Latch, who string) error {
		_, err := a.Auth.SetDisabled(ctx, who, true)
		return err
	})
	enable := userAction(e, "enable", "Enable a disabled user", "enabled", func(ctx context.Context, a *app.Latch, who string) error {
		_, err := a.Auth.SetDisabled(ctx, who, false)
		return err
	})
	del := userAction(e, "delete", "Delete a user and their sessions", "deleted", func(ctx context.Context, a *app.Latch, who string) error {
		return a.Auth.DeleteUser(ctx, who)
	})
	verify := userAction(e, "verify", "Mark a user's email address verified", "verified", func(ctx context.Context, a *app.Latch, who string) error {
		_, err := a.Auth.VerifyEmail(ctx, who)
		return err
	})
	unlock := userAction(e, "unlock", "Clear a user's failed-login throttling", "unlocked", func(ctx context.Context, a *app.Latch, who string) error {
		email := auth.NormalizeEmail(who)
		if err := a.Limit.Unlock(ctx, email); err != nil {
			return err
		}
		a.Audit.Record(ctx, audit.Event{Type: "admin.user.unlock", Detail: map[string]any{"email": email}})
		return nil
	})
	return group("user", "Manage users", newUserCreate(e), newUserInvite(e), newUserList(e), disable, enable, del, verify, unlock, newUserMFA(e))
}

// newUserMFA is 'latch user mfa reset EMAIL|ID'.
func newUserMFA(e *env) *cobra.Command {
	reset := &cobra.Command{
		Use:   "reset EMAIL|ID",
		Short: "Remove every second factor of a user (authenticator apps, passkeys, recovery codes)",
		Long: "Remove every second factor of a user who lost theirs, so that they sign in with their password alone and set new ones up. " +
			"Check who is asking before you do this: it is the way around a second factor. The owner is told by email, and the reset is audited.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, args []string) error {
			n, err := a.Auth.ResetFactors(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "removed %d factor(s) of %s\n", n, args[0])
			return nil
		}),
	}
	return group("mfa", "Manage users' second factors", reset)
}

// newUserInvite is 'latch user invite EMAIL'.
func newUserInvite(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "invite EMAIL",
		Short: "Create a user without a password and mail them a link to choose one (72 hours)",
		Long: "Create a user without a password and queue a message with a link to latch's /invite page, where they choose one. " +
			"The server sends the message (from the outbox it shares with this command) within seconds if it runs, else when it starts. " +
			"With LATCH_SIGNUP=off this is how people join.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, args []string) error {
			u, err := a.Auth.Invite(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "invited %s (%s); the link is valid for 72 hours\n", u.Email, u.ID)
			return nil
		}),
	}
}

// newUserCreate is 'latch user create EMAIL'.
func newUserCreate(e *env) *cobra.Command {
	var verified, passwordStdin bool
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user; the password is read from standard input",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, args []string) error {
			pw, err := e.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			u, err := a.Auth.CreateUser(ctx, args[0], pw, verified)
			var weak *apperr.Error
			if errors.As(err, &weak) && weak.Code == apperr.CodeWeakPassword {
				var why []string
				for _, r := range weak.Reasons {
					why = append(why, r.Message)
				}
				return fmt.Errorf("password refused: %s", strings.Join(why, "; "))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created user %s (%s)\n", u.ID, u.Email)
			return nil
		}),
	}
	create.Flags().BoolVar(&verified, "verified", false, "mark the email address as verified")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input without prompting")
	return create
}

// newUserList is 'latch user list'.
func newUserList(e *env) *cobra.Command {
	var limit int
	var after string
	list := &cobra.Command{
		Use:   "list",
		Short: "List users in creation order",
		Args:  usageArgs(cobra.NoArgs),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, _ []string) error {
			users, err := a.Auth.ListUsers(ctx, after, limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tVERIFIED\tDISABLED\tCREATED\tSIGN-IN")
			for _, u := range users {
				ways, err := signInWays(ctx, a, u)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\t%s\n", u.ID, u.Email, u.EmailVerified, u.Disabled, u.CreatedAt.Format(time.RFC3339), ways)
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVar(&limit, "limit", 100, "list at most this many users")
	list.Flags().StringVar(&after, "after", "", "list users created after this user id")
	return list
}

// signInWays lists how a user signs in: "password" and the providers
// of their identities, comma-separated; "-" for none.
func signInWays(ctx context.Context, a *app.Latch, u store.User) (string, error) {
	var ways []string
	if u.PasswordHash != "" {
		ways = append(ways, "password")
	}
	ids, err := a.Auth.Identities(ctx, u.ID)
	if err != nil {
		return "", err
	}
	for _, i := range ids {
		ways = append(ways, i.Provider)
	}
	if len(ways) == 0 {
		return "-", nil
	}
	return strings.Join(ways, ","), nil
}

// userAction is a 'latch user' command that does fn to one user, named by
// email or id, and says done.
func userAction(e *env, use, short, done string, fn func(ctx context.Context, a *app.Latch, who string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use + " EMAIL|ID",
		Short: short,
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, args []string) error {
			if err := fn(ctx, a, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s\n", done, args[0])
			return nil
		}),
	}
}

func newKeys(e *env) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys and their states",
		Args:  usageArgs(cobra.NoArgs),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, _ []string) error {
			keys, err := a.Tokens.Keys(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRES")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, stamp(k.CreatedAt), stamp(k.ActivatedAt), stamp(k.RetireAt))
			}
			return tw.Flush()
		}),
	}
	var force bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Promote the next key to current and create a new next key",
		Long: `Promote the next key to current, keep the old current key published as
previous until its last token has expired, and create a new next key.

The next key must have been published for at least the JWKS cache
lifetime (about 6 minutes) so that no verifier meets a key it has not
seen; --force skips that wait (verifiers then refetch on the unknown kid).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, _ []string) error {
			rotate := a.Tokens.Rotate
			if force {
				rotate = a.Tokens.RotateForce
			}
			kid, err := rotate(ctx)
			if errors.Is(err, token.ErrNextKeyTooNew) {
				return fmt.Errorf("%w (or run 'latch keys rotate --force')", err)
			}
			if err != nil {
				return err
			}
			a.Audit.Record(ctx, audit.Event{Type: "key.rotate", Detail: map[string]any{"kid": kid, "forced": force}})
			fmt.Fprintf(e.stdout, "rotated: %s now signs; running instances pick it up on their next key reload\n", kid)
			return nil
		}),
	}
	rotate.Flags().BoolVar(&force, "force", false, "rotate even if the next key was published only moments ago")
	return group("keys", "Manage signing keys", list, rotate)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// readPassword reads the password: without echo from a terminal (unless
// --password-stdin), else one line of standard input.
func (e *env) readPassword(noPrompt bool) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && !noPrompt && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 4096), 4096)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return "", usageError{errors.New("no password on standard input")}
	}
	return strings.TrimRight(sc.Text(), "\r"), nil
}

func newAudit(e *env) *cobra.Command {
	var (
		user, typ string
		limit     int
		before    int64
		since     time.Duration
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List security events, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: e.runWithApp(func(ctx context.Context, a *app.Latch, _ []string) error {
			opts := store.ListAuditOptions{Type: typ, Limit: limit, Before: before}
			if user != "" {
				u, err := a.Auth.FindUser(ctx, user)
				switch {
				case err == nil:
					opts.UserID = u.ID
				case errors.Is(err, auth.ErrUserNotFound):
					opts.UserID = user // a deleted user's events keep their id
				default:
					return err
				}
			}
			if since > 0 {
				opts.Since = time.Now().Add(-since)
			}
			events, err := a.DB.ListAudit(ctx, opts)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tTYPE\tUSER\tSESSION\tIP\tDETAIL")
			for _, ev := range events {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.ID, ev.Time.UTC().Format(time.RFC3339), ev.Type,
					dash(ev.UserID), dash(ev.SessionID), dash(ev.IP), dash(string(ev.Detail)))
			}
			return tw.Flush()
		}),
	}
	list.Flags().StringVar(&user, "user", "", "only this user's events (email or id)")
	list.Flags().StringVar(&typ, "type", "", "only events of this type, e.g. login.failure")
	list.Flags().IntVar(&limit, "limit", 50, "list at most this many")
	list.Flags().Int64Var(&before, "before", 0, "list events older than this event id (paging)")
	list.Flags().DurationVar(&since, "since", 0, "only events of the last DURATION, e.g. 24h")
	return group("audit", "Read the audit trail of security events", list)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
