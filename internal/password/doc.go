// Package password owns everything latch does with a clear-text password:
// Unicode normalisation (NFKC), the acceptance policy (length in code points,
// common passwords, the account's email, optionally breached passwords),
// hashing with argon2id into PHC strings, verification of stored argon2id
// and bcrypt hashes with a re-hash signal, and the admission control that
// bounds how many hashes run at once.
//
// It must not know about latch's HTTP API, JSON bodies, the store or users:
// callers pass strings in and map the results (Reason codes, ErrBusy,
// ErrInvalidHash) onto their own answers. It never returns a password or a
// hash inside an error, and it logs only from the breach check, through an
// injected logger, so nothing it says can leak a secret.
//
// Callers run TooLong on untrusted input before anything else, so that an
// oversized body costs no normalisation and no hashing; Hash, Verify and
// Check normalise internally, so passing an already normalised string is
// harmless (NFKC is idempotent).
//
// README: common_passwords.txt holds the 10,000 most frequent passwords of at
// least 8 code points from the ranked "passwords" list of the npm package
// @zxcvbn-ts/language-common 4.1.3 (MIT, © 2012-2016 Dan Wheeler and Dropbox,
// Inc., © 2021 @zxcvbn-ts), lower-cased, NFKC-normalised, deduplicated and
// sorted bytewise; SOURCE.md says how it was extracted and carries the
// licence.
//
// # Memory
//
// Each argon2id computation allocates its working area (Params.Memory,
// 19 MiB by default) and drops it when done, so hashing is most of what a
// latch under sign-in load holds. Size decides how many hashes run at once
// and the soft memory limit of the process (runtime/debug.SetMemoryLimit,
// which the caller applies) from the CPUs, the container's memory limit
// (ContainerMemory reads it from the cgroup files) and an operator's
// limit; with Limits.Memory set, the Hasher counts the working areas of
// running hashes and of finished ones not yet collected, and collects
// garbage before a hash whose area would take them past that limit (less
// 16 MiB for the rest of the process), so that finished hashes' areas are
// reused instead of piling up between the runtime's own collections. It
// reads the runtime's count of collections and may run the collector, and
// nothing else process-wide: setting the limit is the caller's.
//
// # Breached passwords
//
// Policy.Breached optionally adds a check against passwords seen in data
// breaches (NIST SP 800-63B-4 §3.1.1.2, OWASP ASVS 5.0 V6.2.12).
// RangeChecker implements it against a Have I Been Pwned-style range API
// (LATCH_BREACHED_PASSWORDS_URL) by k-anonymity: only the first 5 hex
// characters of the normalised password's SHA-1 are sent, padding is
// requested so that the answer's size does not betray the prefix, and the
// rest of the hash is compared here. It is the package's only network
// access and its only logging — a debug line per lookup, a warning when the
// service cannot answer, never the password, its hash or the prefix — and
// when the service cannot answer it fails open (accepts) by default, or
// closed (breach_check_unavailable) if so configured. Only
// Policy.CheckContext consults it, and only once every local check has
// passed, so a password refused anyway is never looked up; Policy.Check
// stays local and synchronous.
package password
