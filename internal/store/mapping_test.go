package store

import (
	"errors"
	"fmt"
	"testing"
)

// WrapError says what fmt.Errorf would, and wraps the same errors.
func TestWrapError(t *testing.T) {
	driver := errors.New("driver: connection reset")
	for _, tc := range []struct {
		name      string
		err, kind error
		want      error // what fmt.Errorf says and wraps
	}{
		{"a sentinel of the backend's own", fmt.Errorf("lookup: %w", ErrNotFound), nil, fmt.Errorf("sqlite: get: %w", fmt.Errorf("lookup: %w", ErrNotFound))},
		{"no rows", driver, ErrNotFound, fmt.Errorf("sqlite: get: %w", ErrNotFound)},
		{"a unique violation", driver, ErrAlreadyExists, fmt.Errorf("sqlite: get: %w", ErrAlreadyExists)},
		{"unavailable", driver, ErrUnavailable, fmt.Errorf("sqlite: get: %w: %w", ErrUnavailable, driver)},
		{"anything else", driver, nil, fmt.Errorf("sqlite: get: %w", driver)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WrapError("sqlite", "get", tc.err, tc.kind)
			if got.Error() != tc.want.Error() {
				t.Errorf("message: got %q, want %q", got, tc.want)
			}
			for _, target := range []error{ErrNotFound, ErrAlreadyExists, ErrUnavailable, driver} {
				if g, w := errors.Is(got, target), errors.Is(tc.want, target); g != w {
					t.Errorf("errors.Is(%v): got %v, want %v", target, g, w)
				}
			}
		})
	}
}
