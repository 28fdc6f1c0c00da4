package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/latchauth/latch/internal/config"
)

// SecretKey returns the configured secret key or, for SQLite only, the one
// kept in latch.secret beside the database, generating it on first use.
func SecretKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.Tokens.SecretKey != "" {
		return []byte(string(cfg.Tokens.SecretKey)), nil
	}
	path := cfg.Database.SecretFile()
	// Whoever can write the directory can plant a key file of their own
	// before the first start, and then knows the key; the SQLite store
	// refuses such a directory too.
	if fi, err := os.Stat(filepath.Dir(path)); err == nil && fi.Mode().Perm()&0o002 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secret key file %s: its directory is writable by every user (mode %v); keep it and the database in a directory only latch's user can write", path, fi.Mode().Perm())
	}
	k, err := readKeyFile(path, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = createKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process starting at the same moment wrote it first.
		return SecretKey(cfg, log)
	} else if err != nil {
		return nil, err
	}
	log.Warn("generated a secret key into "+path+"; it encrypts the signing keys, so keep it with the database. In production set LATCH_SECRET_KEY instead.",
		"event", "secret.generated", "path", path)
	return k, nil
}

// readKeyFile reads the key kept at path; an error wrapping
// fs.ErrNotExist means there is none yet.
func readKeyFile(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	// A key file made readable by others (by hand, or a copy) is
	// restricted to its owner again, as it was created.
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("secret key file %s is readable by other users and cannot be restricted: %w", path, err)
		}
		log.Warn("secret key file "+path+" was readable by other users; made it 0600", "event", "secret.mode", "path", path, "was", fi.Mode().Perm().String())
	}
	k := strings.TrimSpace(string(b))
	if len(k) < config.MinSecretLen {
		return nil, fmt.Errorf("secret key file %s: shorter than %d characters", path, config.MinSecretLen)
	}
	return []byte(k), nil
}

// createKeyFile writes a new random key to path, readable by its owner
// only. An error wrapping fs.ErrExist means another process made it
// first.
func createKeyFile(path string) ([]byte, error) {
	var raw [32]byte
	rand.Read(raw[:])
	k := base64.RawURLEncoding.EncodeToString(raw[:])
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	return []byte(k), nil
}
