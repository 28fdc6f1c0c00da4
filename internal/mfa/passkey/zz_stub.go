// Package passkey: TEMPORARY stub until the passkey branch lands.
package passkey

import (
	"encoding/json"
	"errors"
	"time"
)

type Config struct {
	RPID    string
	RPName  string
	Origins []string
	Timeout time.Duration
}
type RP struct{}

func New(c Config) (*RP, error) { return &RP{}, nil }

type User struct {
	ID                []byte
	Name, DisplayName string
}
type Credential struct {
	ID        []byte
	SignCount uint32
}

func (c Credential) Passkey() bool { return false }
func (rp *RP) RegistrationOptions(u User, challenge []byte, exclude []Credential, discoverable bool) (json.RawMessage, error) {
	return nil, errors.New("stub")
}
func (rp *RP) Register(u User, challenge []byte, response []byte) (Credential, error) {
	return Credential{}, errors.New("stub")
}
func (rp *RP) LoginOptions(challenge []byte, allow []Credential, requireUV bool) (json.RawMessage, error) {
	return nil, errors.New("stub")
}

type Assertion struct {
	User         User
	Credential   Credential
	UserVerified bool
	CloneWarning bool
}

func (rp *RP) Login(challenge []byte, allow []Credential, requireUV bool, response []byte, find func(rawID, userHandle []byte) (User, Credential, error)) (Assertion, error) {
	return Assertion{}, errors.New("stub")
}
