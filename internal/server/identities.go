package server

import (
	"net/http"
	"net/url"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/web"
)

// The social identities of the signed-in user: listed in GET /v1/user,
// linked through a provider (POST /v1/user/identities, then the link
// code redeemed by the same endpoint), removed with
// DELETE /v1/user/identities/{id}.

type identityJSON struct {
	ID           string     `json:"id"`
	Provider     string     `json:"provider"`
	Email        string     `json:"email"`
	CreatedAt    time.Time  `json:"created_at"`
	LastSignInAt *time.Time `json:"last_sign_in_at"`
}

func identitiesJSON(list []store.Identity) []identityJSON {
	out := make([]identityJSON, len(list))
	for i, x := range list {
		out[i] = identityJSON{ID: x.ID, Provider: x.Provider, Email: x.Email, CreatedAt: x.CreatedAt}
		if !x.LastSignInAt.IsZero() {
			t := x.LastSignInAt
			out[i].LastSignInAt = &t
		}
	}
	return out
}

func (s *Server) handleGetUser() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principal(r.Context())
		var list []store.Identity
		if p.User.Identities > 0 { // most users have none: no query for them
			var err error
			if list, err = s.auth.Identities(r.Context(), p.User.ID); err != nil {
				return err
			}
		}
		encode(w, http.StatusOK, struct {
			userJSON
			HasPassword bool           `json:"has_password"`
			Identities  []identityJSON `json:"identities"`
		}{newUserJSON(p.User), p.User.PasswordHash != "", identitiesJSON(list)})
		return nil
	})
}

// handleLinkIdentity is POST /v1/user/identities: with provider and
// redirect_uri it starts a link and answers the link URL; with the
// link_code that link brought back and the PKCE verifier it makes the
// link (201, the identity).
func (s *Server) handleLinkIdentity() http.Handler {
	type request struct {
		Provider        string `json:"provider"`
		RedirectURI     string `json:"redirect_uri"`
		State           string `json:"state"`
		CodeChallenge   string `json:"code_challenge"`
		CodeChallengeM  string `json:"code_challenge_method"`
		CurrentPassword string `json:"current_password"`
		LinkCode        string `json:"link_code"`
		CodeVerifier    string `json:"code_verifier"`
	}
	return handleBody(s, jsonOnly, func(w http.ResponseWriter, r *http.Request, req request) error {
		p := principal(r.Context())
		if req.LinkCode != "" {
			id, err := s.auth.ConfirmLink(r.Context(), p, req.LinkCode, req.CodeVerifier)
			if err != nil {
				return err
			}
			encode(w, http.StatusCreated, identitiesJSON([]store.Identity{id})[0])
			return nil
		}
		switch {
		case !s.cfg.Pages.UI:
			return badRequest("linking a provider needs latch's pages (LATCH_UI=on): the browser goes through /v1/link and /v1/callback")
		case req.RedirectURI == "":
			return badRequest("redirect_uri is required")
		case !web.AllowedRedirect(s.cfg.Pages.RedirectURLs, req.RedirectURI):
			return badRequest("redirect_uri is not one of the allowed redirect URIs (LATCH_REDIRECT_URLS)")
		case req.CodeChallengeM != "" && req.CodeChallengeM != "S256":
			return badRequest("code_challenge_method must be S256")
		}
		ticket, err := s.auth.StartLink(r.Context(), p, auth.LinkRequest{
			Provider: req.Provider, RedirectURI: req.RedirectURI, State: req.State,
			CodeChallenge: req.CodeChallenge, CurrentPassword: req.CurrentPassword,
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, map[string]string{"url": s.cfg.HTTP.PublicURL + "/v1/link?" + url.Values{"ticket": {ticket}}.Encode()})
		return nil
	})
}

func (s *Server) handleUnlinkIdentity() http.Handler {
	return s.handleDeleteOwn(s.auth.UnlinkIdentity)
}
