// Package faulttest breaks the real latch binary on purpose and checks
// what is left afterwards. Its tests (there is no other code) run `latch
// serve` through internal/e2e and, under load:
//
//   - kill it with SIGKILL and restart it on the same SQLite file: every
//     acknowledged signup can sign in, every acknowledged rotation left
//     the old refresh token dead and the new one live, every acknowledged
//     logout holds, no half-written session is listed, and SQLite's
//     integrity_check and foreign_key_check are clean;
//   - stop its PostgreSQL (pg_ctl stop -m immediate), and in another test
//     freeze every connection to it through a proxy: the database
//     endpoints answer 503 with Retry-After within LATCH_REQUEST_TIMEOUT,
//     revocation checks fail closed, /readyz says 503 and /healthz 200;
//     when the database returns latch recovers without a restart, with
//     nothing acknowledged missing;
//   - send it SIGTERM: requests in flight get their normal answers, new
//     connections are refused and the process exits 0;
//   - fill the disk under its SQLite file, make that file system
//     read-only, or hold SQLite's write lock from another connection:
//     writes answer 503 with Retry-After in bounded time, reads go on, and
//     when the fault ends nothing acknowledged is missing and nothing that
//     failed was half applied.
//
// Requirements. The disk tests mount file systems, so they need root (CI
// runs as root; elsewhere they skip and say why): a tmpfs for the full
// disk, and an ext4 image on a loop device (mkfs.ext4, e2fsck) for the
// read-only one. A plain `mount -o remount,ro` is no way to make a file
// system read-only under latch: Linux refuses it (EBUSY) while a process
// has a file there open for writing, and latch always has its database
// open. What turns a file system read-only under a running process is the
// kernel, when ext4 mounted with errors=remount-ro meets an error, which
// ext4's trigger_fs_error knob raises on demand.
//
// The PostgreSQL tests start a PostgreSQL of their own with initdb and
// pg_ctl in a temporary directory on a free port, never the shared server
// on 5432. They look for the binaries in LATCH_TEST_PG_BINDIR, else in the
// newest /usr/lib/postgresql/*/bin, and skip if there are none; as root
// they run them as the postgres user.
//
// All traffic goes to 127.0.0.1; every test is bounded in time and removes
// what it created. Nothing imports this package; it exists for `go test`.
package faulttest
