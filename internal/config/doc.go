// Package config defines latch's settings and loads them from defaults, a
// YAML file, LATCH_* environment variables and flags, in that order of
// precedence, validating the result with one message per problem.
//
// Config groups the settings by the part of latch that reads them (HTTP,
// Database, Tokens, Passwords, Limits, Mail, Pages, Log, Ops). Each
// setting is one declaration in Settings, from which its YAML key, LATCH_*
// variable and flag follow; Load decides what is derived from several
// settings (the default audience and sender, whether verification is on,
// how mail leaves latch, the parsed database and URLs) once, so that
// callers read a value instead of asking again.
//
// It only reads and checks values; it opens no database and creates no
// files (the secret-key file is internal/app's business).
package config
