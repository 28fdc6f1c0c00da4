package faulttest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// TestSQLiteDiskFull fills the file system under latch's SQLite file:
// writes answer 503 with Retry-After, reads go on, and once space returns
// latch recovers by itself with nothing acknowledged missing.
func TestSQLiteDiskFull(t *testing.T) {
	needRoot(t)
	d := startDisk(t, mountTmpfs(t))
	filler := filepath.Join(d.mnt, "filler")
	n, err := fill(filler)
	if err != nil {
		t.Fatalf("fill the disk: %v", err)
	}
	t.Logf("disk full after %d bytes of filler", n)
	d.expectWritesFail(t, "disk full")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	d.expectRecovered(t, "disk full")
	d.finish(t)
}

// TestSQLiteReadOnly makes the file system under latch's SQLite file
// read-only while latch runs: writes answer 503 with Retry-After and
// reads go on; once the file system is writable again, nothing
// acknowledged is missing.
//
// A plain `mount -o remount,ro` cannot do this: Linux refuses it (EBUSY)
// while any process has a file on that file system open for writing, and
// latch always has its database open. What does turn a file system
// read-only under a running process is the kernel itself, when ext4
// mounted with errors=remount-ro meets an error; ext4's
// trigger_fs_error knob raises one on demand. The kernel then refuses to
// make that file system writable again until it is unmounted and
// checked, so the recovery here is: stop latch, e2fsck, mount, start
// latch. (The disk-full test covers recovery without a restart.)
func TestSQLiteReadOnly(t *testing.T) {
	needRoot(t)
	img := filepath.Join(t.TempDir(), "ext4.img")
	mnt := mountExt4(t, img)
	d := startDisk(t, mnt)
	dev := mountSource(t, mnt)
	// What latch acknowledged must be on the device, not only in the page
	// cache, or the error (which aborts the journal) would lose it the
	// way a power cut would: SQLite's synchronous=NORMAL does not fsync
	// each commit, by design.
	syscall.Sync()
	knob := "/sys/fs/ext4/" + filepath.Base(dev) + "/trigger_fs_error"
	if err := os.WriteFile(knob, []byte("latch faulttest: read-only file system"), 0o200); err != nil {
		t.Fatalf("raise an ext4 error: %v", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("a write to the file system after the error: %v, want EROFS", err)
	}
	d.expectWritesFail(t, "read-only")

	// Repair offline, as an operator would, and start latch again.
	stopped := time.Now()
	d.p.Stop(t)
	t.Logf("read-only: latch stopped cleanly in %v", time.Since(stopped).Round(time.Millisecond))
	run(t, "umount", mnt)
	fsck := exec.Command("e2fsck", "-f", "-y", img)
	if out, err := fsck.CombinedOutput(); err != nil {
		// Exit status 1 means errors were corrected.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("e2fsck: %v\n%s", err, out)
		}
	}
	run(t, "mount", "-o", "loop,errors=remount-ro", img, mnt)
	d.start(t)
	d.expectRecovered(t, "read-only")
	d.finish(t)
}

// diskFixture is latch on an SQLite file on a small file system of the
// test's own, with a user signed in twice: one session for the checks while writes fail (main),
// one refreshed until they do (burn).
type diskFixture struct {
	mnt   string
	dir   string // latch's working directory
	p     *e2e.Proc
	c     *client
	email string
	pw    string
	main  *chain
	burn  *chain
	// signups are the emails whose signup failed with the fault: they
	// must be free after it.
	signups []string
}

const diskPassword = "a passphrase kept on a small disk"

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts file systems to fill them and to make them read-only (CI runs as root)")
	}
}

// mountTmpfs mounts a 16 MiB tmpfs for the test.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", mnt)
	unmountAtEnd(t, mnt)
	return mnt
}

// mountExt4 makes a 32 MiB ext4 file system in the file img and mounts
// it through a loop device with errors=remount-ro.
func mountExt4(t *testing.T, img string) string {
	t.Helper()
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", img)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-o", "loop,errors=remount-ro", img, mnt)
	unmountAtEnd(t, mnt)
	return mnt
}

// unmountAtEnd unmounts mnt at the end of the test if it is still
// mounted. Registered before latch starts, it runs after latch is killed.
func unmountAtEnd(t *testing.T, mnt string) {
	t.Cleanup(func() {
		if mountSource(t, mnt) == "" {
			return
		}
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
}

// mountSource returns what is mounted at mnt (a device, "tmpfs"), or ""
// if nothing is.
func mountSource(t *testing.T, mnt string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		f := strings.Fields(line)
		if len(f) < 5 || f[4] != mnt {
			continue
		}
		if i := slices.Index(f, "-"); i >= 0 && i+2 < len(f) {
			return f[i+2]
		}
	}
	return ""
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, out)
	}
}

// startDisk starts latch on an SQLite file in mnt and signs a user in
// twice.
func startDisk(t *testing.T, mnt string) *diskFixture {
	t.Helper()
	d := &diskFixture{mnt: mnt, dir: t.TempDir(), email: "disk@fault.example.com", pw: diskPassword}
	d.start(t)
	r := d.c.do(t, "POST", "/v1/signup", "", map[string]any{"email": d.email, "password": d.pw})
	if r.Status != http.StatusCreated {
		t.Fatalf("signup: %s", r)
	}
	d.main = chainOf(r)
	r = d.c.do(t, "POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": d.email, "password": d.pw})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %s", r)
	}
	d.burn = chainOf(r)
	d.refreshOK(t, d.main)
	return d
}

func (d *diskFixture) start(t *testing.T) {
	t.Helper()
	d.p = e2e.Start(t, d.dir,
		"LATCH_DATABASE_URL=sqlite:"+filepath.Join(d.mnt, "latch.db"),
		"LATCH_SECRET_KEY="+secretKey,
		"LATCH_ADMIN_KEY="+adminKey,
		"LATCH_RATE_LIMIT=off",
		"LATCH_REQUEST_TIMEOUT=3s",
	)
	d.c = newClient(t, d.p.URL)
}

func chainOf(r reply) *chain {
	access, refresh := tokens(r)
	return &chain{sid: sessionID(access), access: access, refresh: []string{refresh}}
}

func (d *diskFixture) refreshOK(t *testing.T, ch *chain) {
	t.Helper()
	r, err := d.c.refresh(ch.latest())
	if !expectStatus(t, "refresh", r, err, http.StatusOK) {
		t.FailNow()
	}
	access, refresh := tokens(r)
	ch.access, ch.refresh = access, append(ch.refresh, refresh)
}

// expectWritesFail refreshes the burn session until a write fails (the
// free space the database files still had is used up first), then checks
// every endpoint: writes 503, reads 200.
func (d *diskFixture) expectWritesFail(t *testing.T, what string) {
	t.Helper()
	const limit = 3*time.Second + 2*time.Second // LATCH_REQUEST_TIMEOUT, and slack
	var first reply
	for i := 0; ; i++ {
		r, err := d.c.refresh(d.burn.latest())
		if err != nil {
			t.Fatalf("%s: refresh: %v", what, err)
		}
		if r.Status == http.StatusOK {
			access, refresh := tokens(r)
			d.burn.access, d.burn.refresh = access, append(d.burn.refresh, refresh)
			if i == 2000 {
				t.Fatalf("%s: 2000 refreshes still succeed", what)
			}
			continue
		}
		first = r
		t.Logf("%s: the first write failed after %d refreshes: %s", what, i, r)
		break
	}
	expectUnavailable(t, what+": refresh", first, nil, limit)

	r, err := d.c.refresh(d.main.latest())
	expectUnavailable(t, what+": refresh", r, err, limit)
	r, err = d.c.login(d.email, d.pw)
	expectUnavailable(t, what+": sign-in", r, err, limit)
	email := fmt.Sprintf("%s@fault.example.com", strings.ReplaceAll(what, " ", "-"))
	d.signups = append(d.signups, email)
	r, err = d.c.signup(email, diskPassword)
	expectUnavailable(t, what+": signup", r, err, limit)
	r, err = d.c.logout(d.main.access)
	expectUnavailable(t, what+": logout", r, err, limit)

	// Reads need no write.
	r, err = d.c.try("GET", "/v1/user", d.main.access, nil)
	expectStatus(t, what+": GET /v1/user", r, err, http.StatusOK)
	r, err = d.c.try("GET", "/v1/sessions", d.main.access, nil)
	if expectStatus(t, what+": GET /v1/sessions", r, err, http.StatusOK) {
		if list, _ := r.Body["sessions"].([]any); len(list) != 2 {
			t.Errorf("%s: GET /v1/sessions lists %d sessions, want 2: %s", what, len(list), r)
		}
	}
	r, err = d.c.introspect(d.main.latest())
	if expectStatus(t, what+": introspection", r, err, http.StatusOK) && r.Body["active"] != true {
		t.Errorf("%s: introspection of the live refresh token: %s", what, r)
	}
	r, err = d.c.try("GET", "/healthz", "", nil)
	expectStatus(t, what+": /healthz", r, err, http.StatusOK)
	r, err = d.c.try("GET", "/.well-known/jwks.json", "", nil)
	expectStatus(t, what+": JWKS", r, err, http.StatusOK)
	if r, err := d.c.try("GET", "/readyz", "", nil); err == nil {
		t.Logf("%s: /readyz says %s", what, r)
	}
}

// expectRecovered checks that writes work again and that every write
// that failed left nothing behind.
func (d *diskFixture) expectRecovered(t *testing.T, what string) {
	t.Helper()
	start := time.Now()
	// The first write after the fault may be the one to find out; give
	// it a few seconds, bounded.
	var last reply
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool {
		r, err := d.c.refresh(d.main.latest())
		if err != nil {
			t.Fatalf("%s: refresh after recovery: %v", what, err)
		}
		last = r
		if r.Status == http.StatusOK {
			access, refresh := tokens(r)
			d.main.access, d.main.refresh = access, append(d.main.refresh, refresh)
			return true
		}
		return false
	}) {
		t.Fatalf("%s: latch did not recover without a restart: refresh of the live token still gets %s 10 s after the fault ended; logs:\n%s", what, last, d.p.Logs())
	}
	t.Logf("%s: writes work again %v after the fault ended (or latch restarted)", what, time.Since(start).Round(time.Millisecond))
	// The token whose refresh failed first was not rotated: it is live.
	d.refreshOK(t, d.burn)
	r, err := d.c.try("GET", "/v1/user", d.main.access, nil)
	expectStatus(t, what+": GET /v1/user after recovery", r, err, http.StatusOK)
	r, err = d.c.login(d.email, d.pw)
	expectStatus(t, what+": sign-in after recovery", r, err, http.StatusOK)
	// The signup that failed did not create its user: signing up again
	// works.
	for _, email := range d.signups {
		r, err = d.c.signup(email, diskPassword)
		expectStatus(t, what+": signup of "+email+" after its failed attempt", r, err, http.StatusCreated)
	}
	d.signups = nil
	// Every acknowledged rotation holds: only the latest token of each
	// session is active.
	for _, ch := range []*chain{d.main, d.burn} {
		for i, tok := range ch.refresh {
			r, err := d.c.introspect(tok)
			if !expectStatus(t, "introspect", r, err, http.StatusOK) {
				return
			}
			if want := i == len(ch.refresh)-1; r.Body["active"] != want {
				t.Errorf("%s: refresh token %d of %d: active %v, want %v", what, i+1, len(ch.refresh), r.Body["active"], want)
			}
		}
	}
	if r, err := d.c.try("GET", "/readyz", "", nil); !expectStatus(t, what+": /readyz after recovery", r, err, http.StatusOK) {
		t.Logf("logs:\n%s", d.p.Logs())
	}
}

// finish stops latch and checks the database file.
func (d *diskFixture) finish(t *testing.T) {
	t.Helper()
	d.p.Stop(t)
	checkSQLite(t, filepath.Join(d.mnt, "latch.db"))
	if t.Failed() {
		t.Logf("latch logs:\n%s", d.p.Logs())
	}
}

// fill writes to path until the file system has no space left, and
// reports how much it wrote.
func fill(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	// Big writes first, then page by page for the tail.
	for _, size := range []int{1 << 20, 4 << 10, 512} {
		buf := make([]byte, size)
		for {
			m, err := f.Write(buf)
			n += int64(m)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
