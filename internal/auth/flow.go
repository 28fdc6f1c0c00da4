package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/store"
)

// A sign-in at a provider in the browser. StartFlow draws the flow's
// state, nonce and PKCE verifier and seals them, with what the flow is
// for, into the value of a short-lived cookie that binds the flow to the
// browser that started it; nothing is stored. FinishFlow, at the
// callback, opens the cookie, matches the provider's state to it, spends
// the flow's nonce in the store (a replayed callback finds it spent),
// has the connector redeem the answer, and signs the person in or links
// the identity.

// FlowTTL is how long a sign-in at a provider may take.
const FlowTTL = 10 * time.Minute

// flowState is what the flow cookie holds, sealed under the server
// secret (AES-GCM): read by nobody but latch, changed by nobody.
type flowState struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"` // unix seconds
	FlowIntent
}

// FlowIntent says what a provider flow is for.
type FlowIntent struct {
	// Continue is where the browser goes once signed in: a path on latch
	// that the caller has checked (/v1/authorize?…, /account).
	Continue string `json:"c,omitempty"`
	// LinkUser and LinkSession, when set, link the identity to this
	// signed-in user (whose session must still be live at the callback)
	// instead of signing in.
	LinkUser    string `json:"lu,omitempty"`
	LinkSession string `json:"ls,omitempty"`
	// Redirect and AppState: where an application's link request (POST
	// /v1/user/identities) sends the browser back, checked by the caller.
	Redirect string `json:"r,omitempty"`
	AppState string `json:"as,omitempty"`
	// Challenge is the application's PKCE challenge for a link it asked
	// for: the link is made only when it redeems the link code with the
	// verifier (ConfirmLink), so a link URL that leaks links nothing.
	Challenge string `json:"ch,omitempty"`
}

// FlowStart is where to send the browser, and the value of the cookie
// that binds the flow to it.
type FlowStart struct {
	URL    string
	Cookie string
}

// FlowResult is a finished provider flow: a sign-in (Tokens holds the
// new browser session) or a link (Linked).
type FlowResult struct {
	Provider Provider
	Tokens   TokenResponse
	Linked   bool
	// LinkCode is what an application's link (Redirect set) returns to
	// it, to redeem with ConfirmLink.
	LinkCode string
	// PendingLink, with ErrIdentityLinkRequired, holds the identity the
	// provider vouched for, sealed: once the person signs in to the
	// existing account in this browser, OfferedLink shows it and
	// AcceptLink links it (Keycloak's first broker login).
	PendingLink string
	FlowIntent
}

const flowAAD = "provider flow"

// StartFlow begins a sign-in (or a link) at the provider.
func (s *Service) StartFlow(ctx context.Context, providerID string, in FlowIntent) (FlowStart, error) {
	p, ok := s.Provider(providerID)
	if !ok {
		return FlowStart{}, ErrUnknownProvider
	}
	f := flowState{Provider: p.ID, State: randomToken(), Nonce: randomToken(), Verifier: randomToken(),
		Expires: s.now().Add(FlowTTL).Unix(), FlowIntent: in}
	to, err := p.Connector.AuthURL(ctx, connector.Request{State: f.State, Nonce: f.Nonce, Verifier: f.Verifier})
	if err != nil {
		s.log.WarnContext(ctx, "sign-in provider unavailable", "provider", p.ID, "error", err)
		return FlowStart{}, ErrProviderUnavailable
	}
	cookie, err := s.seal(flowAAD, f)
	if err != nil {
		return FlowStart{}, err
	}
	s.audit.Count("flow.start")
	return FlowStart{URL: to, Cookie: cookie}, nil
}

func (s *Service) openFlow(cookie string) (flowState, bool) {
	var f flowState
	if !s.unseal(flowAAD, cookie, &f) || s.now().Unix() >= f.Expires {
		return flowState{}, false
	}
	return f, true
}

// FinishFlow completes a provider flow at its callback: cookie is the
// flow cookie's value, answer the callback's query or form. c is the
// browser's requester: a sign-in starts a browser session.
func (s *Service) FinishFlow(ctx context.Context, providerID, cookie string, answer url.Values, c Requester) (FlowResult, error) {
	ctx = WithRequester(ctx, c)
	f, ok := s.openFlow(cookie)
	if !ok || f.Provider != providerID || len(answer["state"]) != 1 || !equalStrings(answer.Get("state"), f.State) {
		// No flow of this browser: a login CSRF, a replay from another
		// browser, or an expired sign-in.
		s.record(ctx, "flow.refused", "", "", map[string]any{"idp": providerID, "cookie": ok})
		return FlowResult{}, ErrFlowInvalid
	}
	res := FlowResult{FlowIntent: f.FlowIntent}
	p, ok := s.Provider(f.Provider)
	if !ok {
		return res, ErrFlowInvalid // the provider left the configuration meanwhile
	}
	res.Provider = p
	if err := s.claimNonce(ctx, "flow", p.ID, f.Nonce, time.Unix(f.Expires, 0)); err != nil {
		return res, err
	}
	id, err := p.Connector.Callback(ctx, connector.Request{State: f.State, Nonce: f.Nonce, Verifier: f.Verifier}, answer)
	if err != nil {
		s.record(ctx, "login.failure", f.LinkUser, "", map[string]any{"method": "fed", "idp": p.ID, "reason": "provider"})
		return res, providerErr(err, ErrProviderAnswer)
	}
	if f.LinkUser != "" {
		sess, u, err := s.sessions.GetSessionWithUser(ctx, f.LinkSession)
		if err != nil || u.ID != f.LinkUser || !s.sessionLive(sess, s.now()) || u.Disabled {
			return res, ErrInvalidToken
		}
		if f.Redirect != "" {
			res.LinkCode, err = s.seal(linkCodeAAD, linkCode{User: u.ID, Provider: p.ID, Identity: id, Challenge: f.Challenge, Expires: s.now().Add(CodeTTL).Unix()})
			return res, err
		}
		_, err = s.linkIdentity(ctx, u.ID, p, id)
		res.Linked = err == nil
		return res, err
	}
	res.Tokens, err = s.federatedSignIn(ctx, p, id, c)
	if errors.Is(err, ErrIdentityLinkRequired) {
		res.PendingLink, _ = s.seal(pendingAAD, pendingLink{Provider: p.ID, Identity: id, Expires: s.now().Add(FlowTTL).Unix()})
	}
	return res, err
}

// A provider's identity whose address has an account here, waiting for
// the person to sign in to that account and accept the link.

const pendingAAD = "pending provider link"

type pendingLink struct {
	Provider string             `json:"p"`
	Identity connector.Identity `json:"i"`
	Expires  int64              `json:"e"`
}

// OfferedLink reads a pending link: the provider and the address it
// vouched for. ok is false for a value latch did not seal, or an
// expired one.
func (s *Service) OfferedLink(pending string) (p Provider, email string, ok bool) {
	var l pendingLink
	if !s.unseal(pendingAAD, pending, &l) || s.now().Unix() >= l.Expires {
		return Provider{}, "", false
	}
	p, ok = s.Provider(l.Provider)
	return p, l.Identity.Email, ok
}

// AcceptLink links a pending identity to the person who has just
// signed in (within RecentAuth) in the browser that holds it, and said
// yes.
func (s *Service) AcceptLink(ctx context.Context, pr Principal, pending string) error {
	var l pendingLink
	if !s.unseal(pendingAAD, pending, &l) || s.now().Unix() >= l.Expires {
		return ErrFlowInvalid
	}
	if !s.recent(pr.Session) {
		return ErrInsufficientAuth
	}
	if err := s.needLevel(ctx, pr); err != nil {
		return err
	}
	p, ok := s.Provider(l.Provider)
	if !ok {
		return ErrUnknownProvider
	}
	_, err := s.linkIdentity(ctx, pr.User.ID, p, l.Identity)
	return err
}

// Linking from an application (POST /v1/user/identities): the
// application, holding the user's access token, gets a link URL on
// latch carrying a sealed ticket; the browser follows it to the
// provider; the callback returns to the application's redirect URI with
// a link code; the application redeems the code with its access token
// and its PKCE verifier, and only then is the identity linked.

const (
	ticketAAD   = "provider link ticket"
	linkCodeAAD = "provider link code"
	// TicketTTL is how long a link URL can be followed.
	TicketTTL = 5 * time.Minute
)

type linkTicket struct {
	Provider string `json:"p"`
	Expires  int64  `json:"e"`
	FlowIntent
}

type linkCode struct {
	User      string             `json:"u"`
	Provider  string             `json:"p"`
	Identity  connector.Identity `json:"i"`
	Challenge string             `json:"c"`
	Expires   int64              `json:"e"`
}

// LinkRequest is an application's request to link a provider to the
// signed-in user. RedirectURI is checked by the caller.
type LinkRequest struct {
	Provider        string
	RedirectURI     string
	State           string
	CodeChallenge   string
	CurrentPassword string
}

// StartLink checks the caller's proof (a sign-in within the last 5
// minutes, or the current password) and returns the ticket of a link
// URL (GET /v1/link?ticket=…).
func (s *Service) StartLink(ctx context.Context, p Principal, in LinkRequest) (string, error) {
	if err := s.needLevel(ctx, p); err != nil {
		return "", err
	}
	switch {
	case in.Provider == "":
		return "", invalid("provider", "is required")
	case in.CodeChallenge == "":
		return "", invalid("code_challenge", "is required (PKCE, S256): the link code is redeemed with its verifier")
	case !WellFormedChallenge(in.CodeChallenge):
		return "", invalid("code_challenge", "must be the base64url SHA-256 of the verifier (43 characters)")
	case len(in.State) > 1024:
		return "", invalid("state", "is longer than 1024 characters")
	}
	if _, ok := s.Provider(in.Provider); !ok {
		return "", ErrUnknownProvider
	}
	if err := s.linkProof(ctx, p, in.CurrentPassword); err != nil {
		return "", err
	}
	return s.seal(ticketAAD, linkTicket{Provider: in.Provider, Expires: s.now().Add(TicketTTL).Unix(), FlowIntent: FlowIntent{
		LinkUser: p.User.ID, LinkSession: p.Session.ID, Redirect: in.RedirectURI, AppState: in.State, Challenge: in.CodeChallenge,
	}})
}

// LinkTicket opens a link URL's ticket: the provider and the intent to
// start its flow with. ok is false for a ticket latch did not make or an
// expired one.
func (s *Service) LinkTicket(ticket string) (provider string, in FlowIntent, ok bool) {
	var t linkTicket
	if !s.unseal(ticketAAD, ticket, &t) || s.now().Unix() >= t.Expires {
		return "", FlowIntent{}, false
	}
	return t.Provider, t.FlowIntent, true
}

// ConfirmLink redeems a link code: the identity it names is linked to
// the caller, who must be the user who asked, with the verifier of the
// challenge they asked with.
func (s *Service) ConfirmLink(ctx context.Context, p Principal, code, verifier string) (store.Identity, error) {
	switch {
	case code == "":
		return store.Identity{}, invalid("link_code", "is required")
	case !wellFormedVerifier(verifier):
		return store.Identity{}, invalid("code_verifier", "must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~")
	}
	var c linkCode
	if !s.unseal(linkCodeAAD, code, &c) || s.now().Unix() >= c.Expires || c.User != p.User.ID || !challengeMet(verifier, c.Challenge) {
		s.record(ctx, "identity.link.refused", p.User.ID, p.Session.ID, map[string]any{"reason": "link_code"})
		return store.Identity{}, ErrInvalidCode
	}
	prov, ok := s.Provider(c.Provider)
	if !ok {
		return store.Identity{}, ErrUnknownProvider
	}
	if _, err := s.linkIdentity(ctx, p.User.ID, prov, c.Identity); err != nil {
		return store.Identity{}, err
	}
	return s.identities.GetIdentity(ctx, prov.ID, c.Identity.Subject)
}

// linkProof is the proof a link needs: a recent sign-in, or the current
// password (throttled like a sign-in).
func (s *Service) linkProof(ctx context.Context, p Principal, current string) error {
	if s.recent(p.Session) {
		return nil
	}
	if p.User.PasswordHash == "" || current == "" {
		return ErrInsufficientAuth
	}
	return s.freshProof(ctx, p, current, false)
}

func (s *Service) seal(aad string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := s.mac.Seal(raw, []byte(aad))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Service) unseal(aad, text string, v any) bool {
	if text == "" || len(text) > 4096 {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return false
	}
	raw, err := s.mac.Open(sealed, []byte(aad))
	return err == nil && json.Unmarshal(raw, v) == nil
}

// RecentAuth is how recent a sign-in must be for a change that is not
// given the current password.
const RecentAuth = recentAuth

// CheckLinkProof checks the proof linking a provider needs (a recent
// sign-in, or the current password), for the account page, which then
// starts the flow itself.
func (s *Service) CheckLinkProof(ctx context.Context, p Principal, current string) error {
	return s.linkProof(ctx, p, current)
}
