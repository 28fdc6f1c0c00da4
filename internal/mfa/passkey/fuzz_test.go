package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"github.com/latchauth/latch/internal/mfa/passkey/passkeytest"
)

// The fuzz targets start from real responses, and every fuzzing process
// must see the same ones (the software authenticator's keys are random),
// so they are kept in testdata; go test -run TestFuzzSeeds -update-seeds
// writes new ones.
var updateSeeds = flag.Bool("update-seeds", false, "write "+seedsFile)

const seedsFile = "testdata/seeds.json"

// seeds are a registration of ann with regChallenge and two discoverable
// logins with loginChallenge.
type seeds struct {
	Registration json.RawMessage   `json:"registration"`
	Logins       []json.RawMessage `json:"logins"`
}

func readSeeds(t testing.TB) seeds {
	t.Helper()
	b, err := os.ReadFile(seedsFile)
	if err != nil {
		t.Fatal(err)
	}
	var s seeds
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFuzzSeeds checks that the seeds still verify (so that the fuzz
// targets start from responses Register and Login accept), or writes new
// ones with -update-seeds.
func TestFuzzSeeds(t *testing.T) {
	rp := newRP(t)
	if *updateSeeds {
		a := passkeytest.New(origin)
		s := seeds{Registration: create(t, rp, a, ann, true)}
		for range 2 {
			s.Logins = append(s.Logins, assert(t, rp, a, loginChallenge, nil, false))
		}
		b, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seedsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := readSeeds(t)
	cred, err := rp.Register(ann, regChallenge, s.Registration)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	find := func(rawID, userHandle []byte) (User, Credential, error) { return ann, cred, nil }
	for i, login := range s.Logins {
		if _, err := rp.Login(loginChallenge, nil, false, login, find); err != nil {
			t.Errorf("Login %d: %v", i, err)
		}
	}
}

// FuzzRegister checks that Register never panics, whatever the response,
// and that it refuses with ErrInvalid or accepts the credential the
// response names. (Attestation "none" is not signed: any well-formed
// response for the right challenge, origin and RP id is a registration.)
func FuzzRegister(f *testing.F) {
	rp := newRP(f)
	s := readSeeds(f)
	f.Add([]byte(s.Registration))
	f.Add([]byte(s.Logins[0]))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, response []byte) {
		cred, err := rp.Register(ann, regChallenge, response)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if len(cred.ID) == 0 || len(cred.PublicKey) == 0 || !bytes.Contains(response, []byte(b64.EncodeToString(cred.ID))) {
			t.Fatalf("accepted credential %x with a key of %d bytes, not the response's", cred.ID, len(cred.PublicKey))
		}
	})
}

// FuzzLogin checks that Login never panics, whatever the response, that
// it refuses with ErrInvalid or find's error, and that it accepts only the
// seed's credential, signed by its key.
func FuzzLogin(f *testing.F) {
	rp := newRP(f)
	s := readSeeds(f)
	cred, err := rp.Register(ann, regChallenge, s.Registration)
	if err != nil {
		f.Fatal(err)
	}
	for _, login := range s.Logins {
		f.Add([]byte(login))
	}
	f.Add([]byte(s.Registration))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(`null`))
	find := func(rawID, userHandle []byte) (User, Credential, error) {
		if !bytes.Equal(rawID, cred.ID) {
			return User{}, Credential{}, errNotFound
		}
		return ann, cred, nil
	}
	f.Fuzz(func(t *testing.T, response []byte) {
		got, err := rp.Login(loginChallenge, nil, false, response, find)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, errNotFound) {
				t.Fatalf("error %v matches neither ErrInvalid nor find's", err)
			}
			return
		}
		if !bytes.Equal(got.Credential.ID, cred.ID) || !bytes.Equal(got.User.ID, ann.ID) {
			t.Fatalf("accepted credential %x of user %x", got.Credential.ID, got.User.ID)
		}
	})
}
