package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/outbox"
	"github.com/latchauth/latch/internal/store"
)

// Renderer builds a message from its templates; *mail.Templates
// implements it.
type Renderer interface {
	Render(kind, to string, d mail.Data) (mail.Message, error)
}

// Quota counts events per key, such as messages asked for one address.
// Take reports how long to wait when the key is over limit within window
// (0: go ahead, and the event was counted). *ratelimit.Throttler
// implements it.
type Quota interface {
	Take(ctx context.Context, key string, limit int64, window time.Duration) (time.Duration, error)
}

// MailOptions are the rules of the email flows.
type MailOptions struct {
	// LinkBase is where links in messages point: LATCH_APP_URL when the
	// application hosts its own pages, else latch's public URL (its
	// built-in pages). It comes from configuration only, never from a
	// request, so a forged Host header cannot redirect a link.
	LinkBase string
	// AppLinks: LinkBase is the application's, which can receive a
	// sign-in link; latch's own pages cannot sign anybody in to an
	// application, so without it the sign-in message carries the code
	// only.
	AppLinks     bool
	VerifyTTL    time.Duration // email verification link (default 24h)
	RecoverTTL   time.Duration // password reset link (default 1h)
	EmailTTL     time.Duration // email change link (default 24h)
	OTPTTL       time.Duration // sign-in link and code (default 10m)
	Passwordless bool          // POST /v1/otp and grant_type=otp are on
	// PerAddressLimit is how many messages of one kind one email address
	// may be sent per PerAddressWindow (default 5 per hour).
	PerAddressLimit  int64
	PerAddressWindow time.Duration
}

func (o *MailOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.VerifyTTL, 24*time.Hour)
	def(&o.RecoverTTL, time.Hour)
	def(&o.EmailTTL, 24*time.Hour)
	def(&o.OTPTTL, 10*time.Minute)
	def(&o.PerAddressWindow, time.Hour)
	if o.PerAddressLimit <= 0 {
		o.PerAddressLimit = 5
	}
	o.LinkBase = strings.TrimRight(o.LinkBase, "/")
}

// Outbox kinds. Most are template names; the sender turns "recover",
// "verify", "email_change" and "otp" into a message with a fresh
// one-time token, or into nothing when the account does not qualify.
const (
	kindVerify            = "verify"
	kindSignupExisting    = "signup_existing"
	kindRecover           = "recover"
	kindPasswordChanged   = "password_changed"
	kindEmailChange       = "email_change"
	kindEmailChangeNotice = "email_change_notice"
	kindEmailChangeTaken  = "email_change_taken"
	kindOTP               = "otp"
	kindInvite            = "invite"
	kindIdentityLinked    = "identity_linked"
	kindIdentityUnlinked  = "identity_unlinked"
	kindAccountClaimed    = "account_claimed"
	kindFactorAdded       = "factor_added"
	kindFactorRemoved     = "factor_removed"
	kindRecoveryCodes     = "recovery_codes"
	kindRecoveryCodeUsed  = "recovery_code_used"
	kindMFAReset          = "mfa_reset"
)

// InviteTTL is how long an invitation's set-password link works.
const InviteTTL = 72 * time.Hour

// mailData is what an outbox row carries: never a usable secret. The link
// token and code are derived from Nonce with a MAC under the server
// secret at sending time, so the outbox holds nothing that works without
// the secret, no token exists in clear anywhere at rest, and a retried
// delivery sends the same token as the failed one.
type mailData struct {
	Nonce    string `json:"nonce,omitempty"`
	OldEmail string `json:"old_email,omitempty"` // email change: the address being left
	NewEmail string `json:"new_email,omitempty"`
	IP       string `json:"ip,omitempty"`
	// SessionID is the session that asked for an email change: the
	// change ends every other session.
	SessionID string `json:"session_id,omitempty"`
	// Lang is the language the message is written in: the one the
	// request that caused it asked for ("" for English).
	Lang string `json:"lang,omitempty"`
	// Provider is a social provider's name, for people (identity
	// notices).
	Provider string `json:"provider,omitempty"`
	// Factor is the name of a second factor (factor notices);
	// Remaining how many recovery codes are left.
	Factor    string `json:"factor,omitempty"`
	Remaining int    `json:"remaining,omitempty"`
}

// noticeTTL is how long a notice may wait for delivery, and how long the
// undo link of an email-change notice works.
const noticeTTL = 7 * 24 * time.Hour

// enqueue stores a message for the sender and wakes it. ttl bounds how
// long delivery may be retried: a link is useless after its token expired.
func (s *Service) enqueue(ctx context.Context, kind, to, userID string, d mailData, ttl time.Duration) error {
	if d.Nonce == "" && (kind == kindVerify || kind == kindRecover || kind == kindEmailChange || kind == kindOTP || kind == kindSignupExisting || kind == kindEmailChangeNotice || kind == kindInvite) {
		var b [16]byte
		rand.Read(b[:])
		d.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if d.Lang == "" {
		d.Lang = RequesterFrom(ctx).Lang
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("enqueue %s mail: %w", kind, err)
	}
	now := s.now().UTC()
	if _, err := s.outbox.EnqueueMail(ctx, store.OutboxMessage{
		Kind: kind, To: to, UserID: userID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return fmt.Errorf("enqueue %s mail: %w", kind, err)
	}
	if s.wake != nil {
		s.wake()
	}
	return nil
}

// quota counts one more message of kind for email and refuses it when the
// address has had its share. The key is the email as typed (normalised),
// whether or not it has an account, so a refusal tells nothing about
// accounts.
func (s *Service) quota(ctx context.Context, kind, email string) error {
	if s.quotas == nil {
		return nil
	}
	wait, err := s.quotas.Take(ctx, "mail:"+kind+":"+email, s.opts.Mail.PerAddressLimit, s.opts.Mail.PerAddressWindow)
	if err != nil {
		return fmt.Errorf("mail quota: %w", err)
	}
	if wait > 0 {
		s.record(ctx, "mail.throttled", "", "", map[string]any{"kind": kind, "email": email})
		return apperr.Throttled(wait)
	}
	return nil
}

// linkToken derives the one-time link token of an outbox message: 256
// bits, unguessable without the server secret.
func (s *Service) linkToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac.MAC("mail link token", []byte(nonce)))
}

// otpCode derives the six-digit code of an outbox message. 64 bits reduced
// mod 10^6 leave a bias below 10^-13.
func (s *Service) otpCode(nonce string) string {
	m := s.mac.MAC("mail otp code", []byte(nonce))
	return fmt.Sprintf("%06d", binary.BigEndian.Uint64(m[:8])%1_000_000)
}

// codeHash is what is stored of a code: a MAC under the server secret, so
// that a stolen database does not give the million candidates away, bound
// to one token so that a code matches only the token it was sent with.
func (s *Service) codeHash(tokenID, code string) []byte {
	return s.mac.MAC("otp code hash", []byte(tokenID+"\x00"+code))
}

// wellFormedLinkToken rejects anything that cannot be a link token
// before touching the database.
func wellFormedLinkToken(t string) bool {
	if len(t) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil
}

func (s *Service) link(page, tok string) string {
	return s.opts.Mail.LinkBase + "/" + page + "?token=" + url.QueryEscape(tok)
}

// Compose renders an outbox message for the sender (outbox.Composer),
// minting its one-time token first when it carries one; outbox.ErrDrop
// when the message no longer applies. The token's lifetime counts from
// the request, not from the delivery, so a delayed delivery never extends
// it.
func (s *Service) Compose(ctx context.Context, m store.OutboxMessage) (mail.Message, error) {
	l := letter{s: s, ctx: ctx, m: m}
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &l.d); err != nil {
			return mail.Message{}, fmt.Errorf("%w: unreadable data: %v", outbox.ErrDrop, err)
		}
	}
	switch m.Kind {
	case kindVerify:
		return l.verify()
	case kindRecover, kindSignupExisting:
		return l.recover()
	case kindInvite:
		return l.invite()
	case kindEmailChange:
		return l.emailChange()
	case kindOTP:
		return l.otp()
	case kindPasswordChanged:
		return l.render(kindPasswordChanged, mail.Data{Time: m.CreatedAt, IP: l.d.IP})
	case kindEmailChangeNotice:
		return l.emailChangeNotice()
	case kindIdentityLinked, kindIdentityUnlinked, kindAccountClaimed:
		return l.render(m.Kind, mail.Data{Time: m.CreatedAt, IP: l.d.IP, Provider: l.d.Provider})
	case kindFactorAdded, kindFactorRemoved, kindRecoveryCodes, kindRecoveryCodeUsed, kindMFAReset:
		return l.render(m.Kind, mail.Data{Time: m.CreatedAt, IP: l.d.IP, Factor: l.d.Factor, Remaining: l.d.Remaining})
	default:
		return mail.Message{}, fmt.Errorf("%w: unknown kind %q", outbox.ErrDrop, m.Kind)
	}
}

// letter is one outbox message being composed.
type letter struct {
	s   *Service
	ctx context.Context
	m   store.OutboxMessage
	d   mailData
}

// render writes the message in the language its request asked for.
func (l letter) render(kind string, md mail.Data) (mail.Message, error) {
	md.Lang = l.d.Lang
	msg, err := l.s.renderer.Render(kind, l.m.To, md)
	if err != nil {
		return mail.Message{}, fmt.Errorf("%w: render %s: %v", outbox.ErrDrop, kind, err)
	}
	return msg, nil
}

// tokenLink mints the message's one-time token for u and returns the
// link to page that carries it.
func (l letter) tokenLink(u store.User, purpose store.TokenPurpose, ttl time.Duration, page, newEmail string) (string, error) {
	tok, err := l.s.mint(l.ctx, u, purpose, l.d, l.m, ttl, newEmail)
	if err != nil {
		return "", err
	}
	return l.s.link(page, tok), nil
}

// linkMessage is a message of kind whose one content is a link to page
// with a token of purpose that lives ttl; it is dropped when spent says
// the account no longer needs it (nil: never).
func (l letter) linkMessage(kind string, purpose store.TokenPurpose, ttl time.Duration, page string, spent func(store.User) bool) (mail.Message, error) {
	u, err := l.s.mailUser(l.ctx, l.m)
	if err != nil {
		return mail.Message{}, err
	}
	if spent != nil && spent(u) {
		return mail.Message{}, outbox.ErrDrop
	}
	link, err := l.tokenLink(u, purpose, ttl, page, "")
	if err != nil {
		return mail.Message{}, err
	}
	return l.render(kind, mail.Data{Link: link, ExpiresIn: ttl})
}

// verify: dropped once the address is verified.
func (l letter) verify() (mail.Message, error) {
	return l.linkMessage(kindVerify, store.PurposeVerify, l.s.opts.Mail.VerifyTTL, "verify", func(u store.User) bool { return u.EmailVerified })
}

// recover: a reset, or a sign-up with a registered address. Both carry a
// password reset link: someone who signs up again with their own address
// has most likely forgotten the password.
func (l letter) recover() (mail.Message, error) {
	return l.linkMessage(l.m.Kind, store.PurposeRecover, l.s.opts.Mail.RecoverTTL, "recover", nil)
}

// invite: a set-password link, as a reset's, that lives 72 hours;
// dropped once the account has a password (the invitation was taken up).
func (l letter) invite() (mail.Message, error) {
	return l.linkMessage(kindInvite, store.PurposeRecover, InviteTTL, "invite", func(u store.User) bool { return u.PasswordHash != "" })
}

func (l letter) emailChange() (mail.Message, error) {
	u, err := l.s.mailUser(l.ctx, l.m)
	if err != nil {
		return mail.Message{}, err
	}
	if u.Email != l.d.OldEmail {
		return mail.Message{}, outbox.ErrDrop // the address changed meanwhile
	}
	// Decided at sending, not at the request, so that the request takes
	// the same time whether or not the address is taken.
	if _, err := l.s.users.GetUserByEmail(l.ctx, l.m.To); err == nil {
		return l.render(kindEmailChangeTaken, mail.Data{NewEmail: l.m.To})
	} else if !errors.Is(err, store.ErrNotFound) {
		return mail.Message{}, err
	}
	ttl := l.s.opts.Mail.EmailTTL
	link, err := l.tokenLink(u, store.PurposeEmailChange, ttl, "email-change", l.m.To)
	if err != nil {
		return mail.Message{}, err
	}
	return l.render(kindEmailChange, mail.Data{Link: link, NewEmail: l.m.To, ExpiresIn: ttl})
}

func (l letter) otp() (mail.Message, error) {
	u, err := l.s.mailUser(l.ctx, l.m)
	if err != nil {
		return mail.Message{}, err
	}
	ttl := l.s.opts.Mail.OTPTTL
	link, err := l.tokenLink(u, store.PurposeOTP, ttl, "otp", "")
	if err != nil {
		return mail.Message{}, err
	}
	md := mail.Data{Code: l.s.otpCode(l.d.Nonce), ExpiresIn: ttl}
	if l.s.opts.Mail.AppLinks {
		md.Link = link
	}
	return l.render(kindOTP, md)
}

// emailChangeNotice is sent even if the change was confirmed before the
// notice left: the undo link matters most then. The token names the old
// address (the recipient) and the new one.
func (l letter) emailChangeNotice() (mail.Message, error) {
	u, err := l.s.mailUser(l.ctx, l.m)
	if err != nil {
		return mail.Message{}, err
	}
	if u.Email != l.m.To && u.Email != l.d.NewEmail {
		return mail.Message{}, outbox.ErrDrop // the account moved on since
	}
	old := u
	old.Email = l.m.To
	link, err := l.tokenLink(old, store.PurposeEmailRevert, noticeTTL, "email-revert", l.d.NewEmail)
	if err != nil {
		return mail.Message{}, err
	}
	return l.render(kindEmailChangeNotice, mail.Data{NewEmail: l.d.NewEmail, Time: l.m.CreatedAt, IP: l.d.IP, Link: link})
}

// mailUser is the live account a token-bearing message is for, looked up
// by id when the row names one, else by the recipient address; outbox.ErrDrop
// if there is none or it is disabled.
func (s *Service) mailUser(ctx context.Context, m store.OutboxMessage) (store.User, error) {
	var u store.User
	var err error
	if m.UserID != "" {
		u, err = s.users.GetUser(ctx, m.UserID)
	} else {
		u, err = s.users.GetUserByEmail(ctx, m.To)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, outbox.ErrDrop
	} else if err != nil {
		return store.User{}, err
	}
	if u.Disabled {
		return store.User{}, outbox.ErrDrop
	}
	if m.Kind != kindEmailChange && m.Kind != kindEmailChangeNotice && u.Email != m.To {
		return store.User{}, outbox.ErrDrop
	}
	return u, nil
}

// mint stores the one-time token of an outbox message and returns it in
// clear for the link. A retried delivery derives the same token, finds it
// stored already, and sends it again.
func (s *Service) mint(ctx context.Context, u store.User, purpose store.TokenPurpose, d mailData, m store.OutboxMessage, ttl time.Duration, newEmail string) (string, error) {
	if d.Nonce == "" {
		return "", fmt.Errorf("%w: no nonce", outbox.ErrDrop)
	}
	tok := s.linkToken(d.Nonce)
	t := store.OneTimeToken{
		ID:        uuid.Must(uuid.NewV7()).String(),
		UserID:    u.ID,
		Purpose:   purpose,
		Email:     u.Email,
		NewEmail:  newEmail,
		Hash:      hashToken(tok),
		CreatedAt: m.CreatedAt,
		ExpiresAt: m.CreatedAt.Add(ttl),
		SessionID: d.SessionID,
	}
	if purpose == store.PurposeOTP {
		t.CodeHash = s.codeHash(t.ID, s.otpCode(d.Nonce))
		// The wrong codes tried at the address so far: the code dies
		// once maxCodeAttempts more are tried (see matchCode).
		misses, err := s.codeMisses(ctx, u.Email)
		if err != nil {
			return "", err
		}
		t.Attempts = misses
	}
	err := s.onetime.CreateOneTimeToken(ctx, t)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		// Minted by an earlier attempt at this message.
	case errors.Is(err, store.ErrNotFound):
		return "", outbox.ErrDrop // the account was deleted meanwhile
	case err != nil:
		return "", err
	}
	return tok, nil
}

// equalMAC compares two MACs in constant time.
func equalMAC(a, b []byte) bool { return hmac.Equal(a, b) }
