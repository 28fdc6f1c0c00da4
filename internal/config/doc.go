// Package config defines latch's settings and loads them from defaults, a
// YAML file, LATCH_* environment variables and flags, in that order of
// precedence, validating the result with one message per problem.
//
// It only reads and checks values; it opens no database and creates no
// files (the secret-key file is the serve command's business).
package config
