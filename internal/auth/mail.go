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
	var d mailData
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return mail.Message{}, fmt.Errorf("%w: unreadable data: %v", outbox.ErrDrop, err)
		}
	}
	render := func(kind string, md mail.Data) (mail.Message, error) {
		md.Lang = d.Lang
		msg, err := s.renderer.Render(kind, m.To, md)
		if err != nil {
			return mail.Message{}, fmt.Errorf("%w: render %s: %v", outbox.ErrDrop, kind, err)
		}
		return msg, nil
	}
	switch m.Kind {
	case kindVerify:
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		if u.EmailVerified {
			return mail.Message{}, outbox.ErrDrop
		}
		tok, err := s.mint(ctx, u, store.PurposeVerify, d, m, s.opts.Mail.VerifyTTL, "")
		if err != nil {
			return mail.Message{}, err
		}
		return render(kindVerify, mail.Data{Link: s.link("verify", tok), ExpiresIn: s.opts.Mail.VerifyTTL})
	case kindRecover, kindSignupExisting:
		// Both carry a password reset link: someone who signs up again
		// with their own address has most likely forgotten the password.
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		tok, err := s.mint(ctx, u, store.PurposeRecover, d, m, s.opts.Mail.RecoverTTL, "")
		if err != nil {
			return mail.Message{}, err
		}
		return render(m.Kind, mail.Data{Link: s.link("recover", tok), ExpiresIn: s.opts.Mail.RecoverTTL})
	case kindInvite:
		// A set-password link, as a reset's, that lives 72 hours; dropped
		// once the account has a password (the invitation was taken up).
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		if u.PasswordHash != "" {
			return mail.Message{}, outbox.ErrDrop
		}
		tok, err := s.mint(ctx, u, store.PurposeRecover, d, m, InviteTTL, "")
		if err != nil {
			return mail.Message{}, err
		}
		return render(kindInvite, mail.Data{Link: s.link("invite", tok), ExpiresIn: InviteTTL})
	case kindEmailChange:
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		if u.Email != d.OldEmail {
			return mail.Message{}, outbox.ErrDrop // the address changed meanwhile
		}
		// Decided at sending, not at the request, so that the request
		// takes the same time whether or not the address is taken.
		if _, err := s.users.GetUserByEmail(ctx, m.To); err == nil {
			return render(kindEmailChangeTaken, mail.Data{NewEmail: m.To})
		} else if !errors.Is(err, store.ErrNotFound) {
			return mail.Message{}, err
		}
		tok, err := s.mint(ctx, u, store.PurposeEmailChange, d, m, s.opts.Mail.EmailTTL, m.To)
		if err != nil {
			return mail.Message{}, err
		}
		return render(kindEmailChange, mail.Data{Link: s.link("email-change", tok), NewEmail: m.To, ExpiresIn: s.opts.Mail.EmailTTL})
	case kindOTP:
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		tok, err := s.mint(ctx, u, store.PurposeOTP, d, m, s.opts.Mail.OTPTTL, "")
		if err != nil {
			return mail.Message{}, err
		}
		md := mail.Data{Code: s.otpCode(d.Nonce), ExpiresIn: s.opts.Mail.OTPTTL}
		if s.opts.Mail.AppLinks {
			md.Link = s.link("otp", tok)
		}
		return render(kindOTP, md)
	case kindPasswordChanged:
		return render(kindPasswordChanged, mail.Data{Time: m.CreatedAt, IP: d.IP})
	case kindEmailChangeNotice:
		// Sent even if the change was confirmed before the notice left:
		// the undo link matters most then. The token names the old
		// address (the recipient) and the new one.
		u, err := s.mailUser(ctx, m)
		if err != nil {
			return mail.Message{}, err
		}
		if u.Email != m.To && u.Email != d.NewEmail {
			return mail.Message{}, outbox.ErrDrop // the account moved on since
		}
		old := u
		old.Email = m.To
		tok, err := s.mint(ctx, old, store.PurposeEmailRevert, d, m, noticeTTL, d.NewEmail)
		if err != nil {
			return mail.Message{}, err
		}
		return render(kindEmailChangeNotice, mail.Data{NewEmail: d.NewEmail, Time: m.CreatedAt, IP: d.IP, Link: s.link("email-revert", tok)})
	default:
		return mail.Message{}, fmt.Errorf("%w: unknown kind %q", outbox.ErrDrop, m.Kind)
	}
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
