package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunRefusesAnAddressTheBrowserCannotReach(t *testing.T) {
	err := run(context.Background(), []string{"-addr", ":3000"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:3000") {
		t.Errorf("run -addr :3000 = %v, want an error that suggests 127.0.0.1:3000", err)
	}
}
