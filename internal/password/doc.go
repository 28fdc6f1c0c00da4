// Package password owns everything latch does with a clear-text password:
// Unicode normalisation (NFKC), the acceptance policy (length in code points,
// common passwords, the account's email), hashing with argon2id into PHC
// strings, verification of stored argon2id and bcrypt hashes with a re-hash
// signal, and the admission control that bounds how many hashes run at once.
//
// It must not know about HTTP, JSON bodies, the store or users: callers pass
// strings in and map the results (Reason codes, ErrBusy, ErrInvalidHash) onto
// their own answers. It never logs and never returns a password or a hash
// inside an error, so nothing it says can leak a secret.
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
package password
