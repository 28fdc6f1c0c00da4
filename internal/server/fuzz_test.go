package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/apperr"
)

type fuzzBody struct {
	GrantType    string          `json:"grant_type"`
	Email        string          `json:"email"`
	Password     string          `json:"password"`
	RefreshToken string          `json:"refresh_token"`
	Metadata     json.RawMessage `json:"metadata"`
	Current      *string         `json:"current_password"`
}

// FuzzDecodeJSON: the JSON decoder never panics, answers only 400 or 413
// for what it refuses, and never accepts a body with a repeated key or a
// key that is a field's name in another spelling.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"grant_type":"password","email":"a@b.co","password":"x"}`,
		`{"email":"a","email":"b"}`, `{"metadata":{"a":{"b":1,"b":2}}}`, `[]`, `null`, `{`, `{"password":123}`,
		`{"a":[{"x":1},{"x":1}]}`, `{"metadata":{}} {}`, "\xff", strings.Repeat("[", 1000), `{"current_password":null}`,
		`{"PASSWORD":"x"}`, `{"paſsword":"x"}`, `{"metadata":{"A":1,"a":1}}`, `{"metadata":{"a":"\u0000"}}`, `{"metadata":{"a":"\ud83d\ude00"}}`, `{"metadata":{"a":"\\u0000"}}`, `{"a":"\udc00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst fuzzBody
		err := decodeJSON(bytes.NewReader(b), &dst)
		if err == nil {
			if key, p := checkKeys(b, reflect.TypeOf(&dst)); p != keyOK {
				t.Fatalf("accepted a body with key %q repeated or misspelled (%d)", key, p)
			}
			if !json.Valid(b) {
				t.Fatalf("accepted invalid JSON %q", b)
			}
			if !utf8.Valid(b) || !plainEscapes(b) {
				t.Fatalf("accepted a body with bytes that are not UTF-8, a NUL or a lone surrogate: %q", b)
			}
			return
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge) {
			t.Fatalf("refusal is not a 400/413 apperr.Error: %v", err)
		}
	})
}

// FuzzDecodeForm: the form decoder never panics and never takes a
// repeated parameter.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{"grant_type=password&email=a%40b.co&password=x", "a=1&a=2", "grant_type=x&grant_type=y", "%zz", "=&=&", ";"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst fuzzBody
		err := decodeForm(bytes.NewReader(b), &dst)
		var ae *apperr.Error
		if err != nil && (!errors.As(err, &ae) || ae.Status != http.StatusBadRequest) {
			t.Fatalf("refusal is not a 400 apperr.Error: %v", err)
		}
	})
}
