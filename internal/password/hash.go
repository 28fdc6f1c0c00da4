package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidHash is returned by Verify when the stored hash is malformed, of
// an unsupported algorithm, or has parameters beyond the bounds latch will
// compute. It means the stored credential is unusable, not that the password
// is wrong: callers log it and answer as for a failed login.
var ErrInvalidHash = errors.New("password: invalid stored hash")

// Params are argon2id cost parameters, as they appear in a PHC string.
type Params struct {
	// Memory is the memory cost in KiB (PHC "m").
	Memory uint32
	// Time is the number of passes over the memory (PHC "t").
	Time uint32
	// Threads is the degree of parallelism (PHC "p").
	Threads uint8
	// SaltLen is the length in bytes of the random salt.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key.
	KeyLen uint32
}

// DefaultParams returns OWASP's recommended argon2id configuration (Password
// Storage Cheat Sheet): m=19456 KiB (19 MiB), t=2, p=1, with a 16-byte salt
// (RFC 9106 §3.1) and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on the parameters of hashes latch produces. Salts and keys shorter
// than 16 bytes would weaken every new hash; longer than 64 buys nothing.
const (
	minSaltLen = 16
	minKeyLen  = 16
	maxSaltLen = 64
	maxKeyLen  = 64
)

// Validate reports every reason p cannot be used to hash new passwords,
// joined, or nil.
func (p Params) Validate() error {
	var errs []error
	if p.Time < 1 {
		errs = append(errs, errors.New("argon2id time must be at least 1"))
	}
	if p.Threads < 1 {
		errs = append(errs, errors.New("argon2id threads must be at least 1"))
	}
	// RFC 9106 §3.1: memory must be at least 8 KiB per lane.
	if uint64(p.Memory) < 8*uint64(p.Threads) || p.Memory == 0 {
		errs = append(errs, fmt.Errorf("argon2id memory must be at least 8 KiB per thread, got %d KiB", p.Memory))
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		errs = append(errs, fmt.Errorf("argon2id salt length must be %d..%d bytes, got %d", minSaltLen, maxSaltLen, p.SaltLen))
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		errs = append(errs, fmt.Errorf("argon2id key length must be %d..%d bytes, got %d", minKeyLen, maxKeyLen, p.KeyLen))
	}
	return errors.Join(errs...)
}

// Bounds on stored hashes. A stored hash is data, possibly imported or
// tampered with, so its parameters decide how much memory and CPU a login
// costs: anything above these (unless it equals the hasher's own, larger,
// configuration) is refused rather than computed. The memory ceiling is
// RFC 9106's second recommended option (64 MiB), so hashes from other
// well-configured argon2id systems still verify, while Concurrency of them
// at once stays within a known budget.
const (
	maxStoredMemory  = 64 * 1024 // KiB
	maxStoredTime    = 10
	maxStoredThreads = 16
	minStoredSaltLen = 8 // RFC 9106 §3.1 minimum
	// A stored key shorter than 16 bytes could be matched by chance by a
	// wrong password far too often to be worth honouring.
	minStoredKeyLen = 16
	// The longest well-formed argon2id PHC string within the bounds above is
	// under 200 bytes; checking the length first keeps parsing cheap.
	maxEncodedLen = 256
	// bcrypt.DefaultCost is 10 and most systems use 10..12; 14 costs about
	// a second. Beyond it a stored hash could pin a CPU for minutes.
	maxBcryptCost = 14
)

const argon2idPrefix = "$argon2id$"

// Hasher hashes and verifies passwords under admission control. It is safe
// for concurrent use; build one per process with NewHasher.
type Hasher struct {
	params Params
	gate   *gate
	mem    *memGuard
	// dummy is a current-params argon2id hash of a secret nobody holds:
	// VerifyDummy verifies against it so that it takes Verify's exact path.
	dummy string
	// derive is argon2.IDKey; tests replace it to hold a slot or to spy on
	// the parameters a verification would compute with.
	derive func(password, salt []byte, p Params) []byte
}

// NewHasher returns a Hasher that hashes with p and admits work under l. The
// zero Limits means DefaultLimits. It fails when p or l cannot be used.
func NewHasher(p Params, l Limits) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	l = l.withDefaults()
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	// crypto/rand.Read never returns an error (it crashes the program
	// instead) since Go 1.24.
	rand.Read(salt)
	rand.Read(key)
	return &Hasher{
		params: p,
		gate:   newGate(l),
		mem:    newMemGuard(l.Memory),
		dummy:  encodeArgon2id(p, salt, key),
		derive: argon2id,
	}, nil
}

func argon2id(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash normalises password (NFKC) and returns its argon2id hash as a PHC
// string, $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, salt and key in
// unpadded standard base64 as the PHC format specifies. It does not apply
// the Policy: callers check first. It fails with ErrBusy when hashing
// capacity is saturated, or with ctx's error if ctx ends while queued.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	pw := []byte(Normalize(password))
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	key, err := h.compute(ctx, pw, salt, h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return encodeArgon2id(h.params, salt, key), nil
}

// Verify reports whether password matches the stored hash encoded, chosen by
// its prefix: $argon2id$ (any parameters within bounds) or bcrypt ($2a$,
// $2b$, $2y$). Pass the password as the user typed it: Verify normalises it
// (NFKC) itself.
//
// needsRehash is true only when ok is, and then for every bcrypt hash and
// every argon2id hash whose parameters differ from the Hasher's: the caller
// should store a fresh Hash of the same password, so that imported and
// outdated hashes migrate on the next successful login.
//
// err is ErrInvalidHash (wrapped) for a malformed, unsupported or hostile
// stored hash, which is refused before any hashing; ErrBusy or ctx's error
// when no capacity could be had. A wrong password is ok == false, err == nil.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, argon2idPrefix):
		return h.verifyArgon2id(ctx, password, encoded)
	case isBcrypt(encoded):
		return h.verifyBcrypt(ctx, password, encoded)
	default:
		return false, false, fmt.Errorf("%w: unsupported algorithm", ErrInvalidHash)
	}
}

// VerifyDummy costs what a Verify of a wrong password against a
// current-params argon2id hash costs — same admission, same derivation, same
// comparison — and matches nothing. Call it when the email is unknown, so
// that an unknown email and a wrong password take the same time. Its only
// errors are ErrBusy and ctx's error.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// compute runs one argon2id derivation inside an admission slot.
func (h *Hasher) compute(ctx context.Context, password, salt []byte, p Params) ([]byte, error) {
	if err := h.gate.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.gate.release()
	area := uint64(p.WorkingArea())
	h.mem.acquire(area)
	defer h.mem.release(area)
	return h.derive(password, salt, p), nil
}

func (h *Hasher) verifyArgon2id(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := h.parseArgon2id(encoded)
	if err != nil {
		return false, false, err
	}
	pw := []byte(Normalize(password))
	got, err := h.compute(ctx, pw, salt, p)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && p != h.params, nil
}

// parseArgon2id accepts exactly the form encodeArgon2id writes — the PHC
// string format for argon2id version 19, parameters m, t, p in that order,
// decimal without sign or leading zeros, canonical unpadded base64 — and
// refuses parameters outside the stored-hash bounds. Being this strict means
// one password has one encoding, and a stored hash is either understood
// exactly or refused.
func (h *Hasher) parseArgon2id(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id hash longer than %d bytes", ErrInvalidHash, maxEncodedLen)
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id hash must have 5 $-separated fields", ErrInvalidHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id version must be v=%d", ErrInvalidHash, argon2.Version)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id parameters must be m,t,p", ErrInvalidHash)
	}
	m, errM := phcUint(kv[0], "m")
	t, errT := phcUint(kv[1], "t")
	threads, errP := phcUint(kv[2], "p")
	if err := errors.Join(errM, errT, errP); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
	maxMemory := max(maxStoredMemory, uint64(h.params.Memory))
	maxTime := max(maxStoredTime, uint64(h.params.Time))
	maxThreads := max(maxStoredThreads, uint64(h.params.Threads))
	switch {
	case t < 1 || t > maxTime:
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id t=%d outside 1..%d", ErrInvalidHash, t, maxTime)
	case threads < 1 || threads > maxThreads:
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id p=%d outside 1..%d", ErrInvalidHash, threads, maxThreads)
	case m < 8*threads || m > maxMemory:
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id m=%d outside %d..%d", ErrInvalidHash, m, 8*threads, maxMemory)
	}
	salt, err = decodeBase64(parts[4])
	if err != nil || len(salt) < minStoredSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id salt must be %d..%d bytes of unpadded base64", ErrInvalidHash, minStoredSaltLen, maxSaltLen)
	}
	key, err = decodeBase64(parts[5])
	if err != nil || len(key) < minStoredKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id key must be %d..%d bytes of unpadded base64", ErrInvalidHash, minStoredKeyLen, maxKeyLen)
	}
	p = Params{
		Memory:  uint32(m),
		Time:    uint32(t),
		Threads: uint8(threads),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	return p, salt, key, nil
}

// phcUint parses "name=decimal" where decimal is a PHC decimal: digits only
// (ParseUint refuses signs), no leading zero unless it is "0", 32 bits.
func phcUint(s, name string) (uint64, error) {
	v, found := strings.CutPrefix(s, name+"=")
	if !found {
		return 0, fmt.Errorf("expected parameter %s", name)
	}
	if len(v) > 1 && v[0] == '0' {
		return 0, fmt.Errorf("parameter %s has a leading zero", name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parameter %s must be a 32-bit decimal", name)
	}
	return n, nil
}

// decodeBase64 decodes canonical unpadded standard base64 only. Strict
// refuses non-zero trailing bits; the length check refuses the line breaks
// that encoding/base64 otherwise skips silently.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.RawStdEncoding.EncodedLen(len(b)) != len(s) {
		return nil, errors.New("base64 with line breaks")
	}
	return b, nil
}

func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2idPrefix, argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))
}

// bcryptLen is the length of every modular-crypt bcrypt hash:
// "$2b$" + 2-digit cost + "$" + 22 salt + 31 hash characters.
const bcryptLen = 60

// isBcrypt recognises the three bcrypt prefixes that denote the correct
// algorithm; $2x$ (crypt_blowfish's buggy variant) and $2$ are refused as
// unsupported.
func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") ||
		strings.HasPrefix(encoded, "$2b$") ||
		strings.HasPrefix(encoded, "$2y$")
}

// checkBcrypt validates the shape and cost of a bcrypt hash before any work:
// x/crypto/bcrypt would otherwise accept trailing garbage and any cost up
// to 31.
func checkBcrypt(encoded string) error {
	if len(encoded) != bcryptLen || encoded[6] != '$' {
		return fmt.Errorf("%w: bcrypt hash must be %d bytes: $2b$NN$ and 53 characters", ErrInvalidHash, bcryptLen)
	}
	for i := 7; i < len(encoded); i++ {
		if !isBcryptBase64(encoded[i]) {
			return fmt.Errorf("%w: bcrypt salt and hash must use bcrypt's base64 alphabet", ErrInvalidHash)
		}
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return fmt.Errorf("%w: bcrypt: %w", ErrInvalidHash, err)
	}
	if cost > maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d above %d", ErrInvalidHash, cost, maxBcryptCost)
	}
	return nil
}

func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

func (h *Hasher) verifyBcrypt(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	if err := checkBcrypt(encoded); err != nil {
		return false, false, err
	}
	normalized := Normalize(password)
	if err := h.gate.acquire(ctx); err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	defer h.gate.release()
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(normalized))
	// The system that produced an imported bcrypt hash most likely did not
	// normalise, so a password that NFKC changes gets a second try as typed.
	// The re-hash that follows a success stores the normalised form.
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) && normalized != password {
		err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	}
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, false, nil
	default:
		return false, false, fmt.Errorf("%w: bcrypt: %w", ErrInvalidHash, err)
	}
}
