package migration

import "testing"

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"00001_init.sql":                     "init",
		"migrations/00002_audit_cleanup.sql": "audit_cleanup",
		"00003.sql":                          "00003",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q): got %q, want %q", in, got, want)
		}
	}
}
