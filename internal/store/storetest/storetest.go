package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// Run runs the conformance suite against a backend. open must return a
// store on a new, empty database that has not been migrated, and register
// with t.Cleanup whatever the database itself needs (a temporary file, a
// schema); Run migrates the store and closes it at the end of the test.
//
// The subtests run in parallel, each on its own database.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tt := range suiteTests() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, migrated(t, open(t)))
		})
	}
	t.Run("MigrationStatusBeforeMigrate", func(t *testing.T) {
		t.Parallel()
		testStatusBeforeMigrate(t, closing(t, open(t)))
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := migrated(t, open(t))
		runConcurrent(t, []store.Store{s})
	})
}

// suiteTest is one test of Run, on a store of its own.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// suiteTests are the tests of Run.
func suiteTests() []suiteTest {
	return []suiteTest{
		{"Ping", testPing},
		{"UserRoundTrip", testUserRoundTrip},
		{"CreateUserConflicts", testCreateUserConflicts},
		{"UserNotFound", testUserNotFound},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserErrors", testUpdateUserErrors},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"ListUsers", testListUsers},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"CreateSessionErrors", testCreateSessionErrors},
		{"UserWithSessionRoundTrip", testUserWithSessionRoundTrip},
		{"CreateUserWithSessionConflicts", testCreateUserWithSessionConflicts},
		{"SessionNotFound", testSessionNotFound},
		{"SessionWithUser", testSessionWithUser},
		{"RefreshHashHistory", testRefreshHashHistory},
		{"UpdateSession", testUpdateSession},
		{"UpdateSessionOneField", testUpdateSessionOneField},
		{"UpdateSessionErrors", testUpdateSessionErrors},
		{"UpdateSessionByRefreshHash", testUpdateSessionByRefreshHash},
		{"ListSessions", testListSessions},
		{"RevokeSessions", testRevokeSessions},
		{"UserCredentialEpoch", testUserCredentialEpoch},
		{"CreateSessionStaleEpoch", testCreateSessionStaleEpoch},
		{"CreateUserWithSessionStaleEpoch", testCreateUserWithSessionStaleEpoch},
		{"SessionAuthTimeAndEpoch", testSessionAuthTimeAndEpoch},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysFuncError", testSigningKeysFuncError},
		{"Throttles", testThrottles},
		{"ThrottleFuncError", testThrottleFuncError},
		{"UpdateThrottles", testUpdateThrottles},
		{"UpdateThrottlesErrors", testUpdateThrottlesErrors},
		{"DeleteEndedSessions", testDeleteEndedSessions},
		{"CountActiveSessions", testCountActiveSessions},
		{"DeleteThrottlesBefore", testDeleteThrottlesBefore},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AppendAuditErrors", testAppendAuditErrors},
		{"ListAudit", testListAudit},
		{"DeleteAuditBefore", testDeleteAuditBefore},
		{"AuditSurvivesDeleteUser", testAuditSurvivesDeleteUser},
		{"OneTimeTokenRoundTrip", testOneTimeTokenRoundTrip},
		{"CreateOneTimeTokenErrors", testCreateOneTimeTokenErrors},
		{"UseOneTimeToken", testUseOneTimeToken},
		{"UseOneTimeTokenErrors", testUseOneTimeTokenErrors},
		{"UseOneTimeTokenSiblings", testUseOneTimeTokenSiblings},
		{"ListOneTimeTokens", testListOneTimeTokens},
		{"UpdateOneTimeToken", testUpdateOneTimeToken},
		{"DeleteOneTimeTokensBefore", testDeleteOneTimeTokensBefore},
		{"OutboxRoundTrip", testOutboxRoundTrip},
		{"EnqueueMailErrors", testEnqueueMailErrors},
		{"ClaimMail", testClaimMail},
		{"RetryMail", testRetryMail},
		{"DeleteMail", testDeleteMail},
		{"SessionKindAndParent", testSessionKindAndParent},
		{"IdentityRoundTrip", testIdentityRoundTrip},
		{"CreateUserWithIdentityConflicts", testCreateUserWithIdentityConflicts},
		{"AttachIdentity", testAttachIdentity},
		{"AttachIdentityErrors", testAttachIdentityErrors},
		{"UpdateIdentity", testUpdateIdentity},
		{"DeleteUserCascadesIdentities", testDeleteUserCascadesIdentities},
		{"DetachIdentity", testDetachIdentity},
		{"ClaimNonce", testClaimNonce},
		{"DeleteNoncesBefore", testDeleteNoncesBefore},
		{"SessionIDP", testSessionIDP},
		{"FactorRoundTrip", testFactorRoundTrip},
		{"CreateFactorErrors", testCreateFactorErrors},
		{"UpdateFactor", testUpdateFactor},
		{"VerifyFactor", testVerifyFactor},
		{"DeleteFactors", testDeleteFactors},
		{"DeleteUserCascadesFactors", testDeleteUserCascadesFactors},
		{"DeletePendingFactorsBefore", testDeletePendingFactorsBefore},
		{"Growth", testGrowth},
		{"Migrations", testMigrations},
	}
}

// RunShared runs the tests that need two stores on one database, as two
// latch instances (or two processes) would have: concurrent migrations and
// the races of Run's concurrency tests, spread over both stores. open must
// return two stores opened separately on the same new, empty, unmigrated
// database.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	a, b := open(t)
	closing(t, a)
	closing(t, b)
	t.Run("ConcurrentMigrate", func(t *testing.T) {
		testConcurrentMigrate(t, []store.Store{a, b})
	})
	if t.Failed() {
		return
	}
	runConcurrent(t, []store.Store{a, b})
}

// closing registers s.Close with t.Cleanup and returns s.
func closing(t *testing.T, s store.Store) store.Store {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// migrated closes s at the end of the test and migrates it now.
func migrated(t *testing.T, s store.Store) store.Store {
	t.Helper()
	closing(t, s)
	must(t, "Migrate", s.Migrate(t.Context()))
	return s
}

// t0 has nanoseconds and a zone on purpose: stores must come back in UTC,
// truncated to microseconds.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// errBoom is what callers' funcs return to test rollback.
var errBoom = errors.New("storetest: boom")

// hash returns a SHA-256, like a refresh token hash.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newUser returns a user with every field set, unique by n.
func newUser(n int) store.User {
	return store.User{
		ID:                uuid.NewString(),
		Email:             fmt.Sprintf("user%d@example.com", n),
		EmailVerified:     true,
		PasswordHash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Metadata:          json.RawMessage(`{"name": "User ` + fmt.Sprint(n) + `", "tags": ["a", "b"], "n": 1.5}`),
		Disabled:          false,
		CreatedAt:         at(time.Duration(n) * time.Minute),
		UpdatedAt:         at(time.Duration(n)*time.Minute + time.Second),
		LastSignInAt:      at(time.Duration(n)*time.Minute + 2*time.Second),
		PasswordChangedAt: at(time.Duration(n)*time.Minute + 3*time.Second),
	}
}

// newSession returns a session of user with every field set except the
// ones a fresh session leaves zero (RevokedAt, ParentHash, Generation)
// and CredentialEpoch, which must be the user's (newUser's is 0).
func newSession(userID string, n int) store.Session {
	created := at(time.Duration(n) * time.Hour)
	return store.Session{
		ID:           uuid.NewString(),
		UserID:       userID,
		Kind:         store.SessionApp,
		CreatedAt:    created,
		LastActiveAt: created.Add(time.Second),
		ExpiresAt:    created.Add(30 * 24 * time.Hour),
		UserAgent:    "Mozilla/5.0 (X11; Linux x86_64) storetest",
		IP:           "2001:db8::1",
		AMR:          []string{"pwd"},
		AAL:          "aal1",
		AuthTime:     created.Add(-2 * time.Second),
		IDP:          "github",
		RefreshHash:  hash(fmt.Sprintf("%s/0", uuid.NewString())),
		RotatedAt:    created,
	}
}

// newKey returns a signing key created at t0 plus n hours.
func newKey(n int, state store.KeyState) store.SigningKey {
	return store.SigningKey{
		ID:        fmt.Sprintf("key-%d", n),
		Algorithm: "ES256",
		State:     state,
		SealedKey: []byte(fmt.Sprintf("sealed-%d\x00\xff", n)),
		PublicKey: []byte(fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":"key-%d"}`, n)),
		CreatedAt: at(time.Duration(n) * time.Hour),
	}
}

// stored returns v as a store gives it back: times truncated to
// microseconds (cmp compares times with Equal, so the zone is checked
// apart, by checkUTC).
func stored[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		if tm, ok := f.Interface().(time.Time); ok {
			f.Set(reflect.ValueOf(tm.Truncate(time.Microsecond)))
		}
	}
	return v
}

// checkUTC fails unless every non-zero time in v (a struct, or a slice of
// them) is in UTC.
func checkUTC(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		for i := range rv.Len() {
			checkUTC(t, rv.Index(i).Interface())
		}
	case reflect.Struct:
		for i := range rv.NumField() {
			tm, ok := rv.Field(i).Interface().(time.Time)
			if ok && !tm.IsZero() && tm.Location() != time.UTC {
				t.Errorf("%T.%s location = %v, want UTC", v, rv.Type().Field(i).Name, tm.Location())
			}
		}
	}
}

// cmpOpts compares metadata as JSON values: PostgreSQL's jsonb keeps
// neither whitespace nor key order.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b json.RawMessage) bool {
		var x, y any
		if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
			return bytes.Equal(a, b)
		}
		return reflect.DeepEqual(x, y)
	}),
}

// diff reports the difference between got and want, which it checks for
// UTC times too.
func diff[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
	checkUTC(t, got)
}

// must stops the test if err, from what, is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// wantFailure fails unless err is an error: one that errors.Is want, if
// want is not nil.
func wantFailure(t *testing.T, what string, err, want error) {
	t.Helper()
	if want != nil {
		wantErr(t, what, err, want)
	} else if err == nil {
		t.Errorf("%s: got nil error, want one", what)
	}
}

// isNotFound reports whether err is store.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// mustCreateUser creates u or stops the test.
func mustCreateUser(t *testing.T, s store.Store, u store.User) store.User {
	t.Helper()
	must(t, "CreateUser", s.CreateUser(t.Context(), u))
	return u
}

// wantNextID stops the test if what, which returned id, failed with err,
// and fails unless id is above *prev, the id what returned before, which
// it then becomes: the ids the database assigns increase.
func wantNextID(t *testing.T, what string, id int64, err error, prev *int64) {
	t.Helper()
	must(t, what, err)
	if id <= *prev {
		t.Errorf("%s id = %d after %d, want increasing", what, id, *prev)
	}
	*prev = id
}

// twoUsers creates newUser(1) and newUser(2), or stops the test.
func twoUsers(t *testing.T, s store.Store) (store.User, store.User) {
	t.Helper()
	return mustCreateUser(t, s, newUser(1)), mustCreateUser(t, s, newUser(2))
}

// mustGet returns what get (a store's GetUser, GetSession...), named
// what, finds for id, or stops the test.
func mustGet[T any](t *testing.T, what string, get func(context.Context, string) (T, error), id string) T {
	t.Helper()
	v, err := get(t.Context(), id)
	if err != nil {
		t.Fatalf("%s(%s): %v", what, id, err)
	}
	return v
}

// lookup is a read that must find nothing, named for its subtest.
type lookup[T any] struct {
	name string
	get  func() (T, error)
}

// wantNotFound runs each lookup as a subtest and fails unless it answers
// store.ErrNotFound.
func wantNotFound[T any](t *testing.T, lookups []lookup[T]) {
	t.Helper()
	for _, l := range lookups {
		t.Run(l.name, func(t *testing.T) {
			_, err := l.get()
			wantErr(t, "get", err, store.ErrNotFound)
		})
	}
}

// failedUpdate is a call of an Update method that must fail, for
// runFailedUpdates: with key (an id, a hash) and fn.
type failedUpdate[K, T any] struct {
	name    string
	key     K
	fn      func(*T) error
	want    error // nil: any error will do
	wantRun bool  // whether fn runs before the call fails
}

// runFailedUpdates runs each case as a subtest: update (named what) must
// fail with the case's error, having run its fn or not as the case says,
// and unchanged then checks that nothing was saved.
func runFailedUpdates[K, T any](t *testing.T, what string, update func(context.Context, K, func(*T) error) (T, error),
	cases []failedUpdate[K, T], unchanged func(t *testing.T)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			_, err := update(t.Context(), tt.key, func(v *T) error { ran = true; return tt.fn(v) })
			wantFailure(t, what, err, tt.want)
			if ran != tt.wantRun {
				t.Errorf("fn ran = %v, want %v", ran, tt.wantRun)
			}
			unchanged(t)
		})
	}
}

// pageThrough reads a list page by page, as a caller resuming from a
// cursor would: next, named what, returns the page of at most limit rows
// that follows last, the last row of the previous page (nil for the
// first). It stops the test when next fails or a page is longer than
// limit, or when more than maxPages pages do not reach the end (a page
// shorter than limit), and returns every row read.
func pageThrough[V any](t *testing.T, what string, limit, maxPages int, next func(last *V) ([]V, error)) []V {
	t.Helper()
	var all []V
	var last *V
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatalf("limit %d: paging does not end", limit)
		}
		page, err := next(last)
		if err != nil {
			t.Fatalf("limit %d: %s after page %d: %v", limit, what, pages, err)
		}
		if len(page) > limit {
			t.Fatalf("limit %d: got a page of %d rows", limit, len(page))
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		last = &page[len(page)-1]
	}
}

// wantDeleted fails unless del, a clean-up method, deletes want rows
// before cut without an error; call names the call in the failure.
func wantDeleted(t *testing.T, call string, del func(context.Context, time.Time) (int64, error), cut time.Time, want int64) {
	t.Helper()
	if n, err := del(t.Context(), cut); err != nil || n != want {
		t.Errorf("%s = %d, %v; want %d, nil", call, n, err, want)
	}
}

// userWithSession creates newUser(1) and a session of it, newSession 1,
// or stops the test.
func userWithSession(t *testing.T, s store.Store) (store.User, store.Session) {
	t.Helper()
	u := mustCreateUser(t, s, newUser(1))
	return u, mustCreateSession(t, s, newSession(u.ID, 1))
}

// mustCreateSession creates ss or stops the test.
func mustCreateSession(t *testing.T, s store.Store, ss store.Session) store.Session {
	t.Helper()
	must(t, "CreateSession", s.CreateSession(t.Context(), ss))
	return ss
}

// rotate returns fn for UpdateSession that rotates the refresh token to
// hash(next) at when.
func rotate(next string, when time.Time) func(*store.Session) error {
	return func(s *store.Session) error {
		s.ParentHash = s.RefreshHash
		s.RefreshHash = hash(next)
		s.RotatedAt = when
		s.LastActiveAt = when
		s.Generation++
		return nil
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
}
