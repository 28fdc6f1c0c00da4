package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// encode writes v as JSON with the status. Every JSON answer goes through
// here.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	// The status is sent; an encoding error now can only be a broken
	// connection, which nobody can be told about.
	_ = json.NewEncoder(w).Encode(v)
}

// bodyKind is the media type a handler accepts besides JSON.
type bodyKind int

const (
	jsonOnly bodyKind = iota
	jsonOrForm
)

// decode reads the request body into dst, a pointer to a struct whose
// fields carry json tags. It answers 415 for another media type, 413 past
// the size limit and 400 for anything malformed, naming the field. Unknown
// fields are ignored, as RFC 6749 §3.2 requires of the token endpoint;
// they are never applied, because only the struct's fields exist.
func (s *Server) decode(r *http.Request, dst any, kind bodyKind) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "Content-Type is malformed")
	}
	body := http.MaxBytesReader(nil, r.Body, s.cfg.HTTP.MaxBodyBytes)
	switch {
	case mt == "application/json":
		return decodeJSON(body, dst)
	case mt == "application/x-www-form-urlencoded" && kind == jsonOrForm:
		return decodeForm(body, dst)
	case kind == jsonOrForm:
		return newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "send application/json or application/x-www-form-urlencoded")
	default:
		return newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "send application/json")
	}
}

// handleBody serves an endpoint whose body decodes into a T: it decodes
// the body, answering 4xx itself when it cannot, and hands it to serve.
func handleBody[T any](s *Server, kind bodyKind, serve func(w http.ResponseWriter, r *http.Request, req T) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req T
		if err := s.decode(r, &req, kind); err != nil {
			return err
		}
		return serve(w, r, req)
	})
}

// readBody reads all of a body that http.MaxBytesReader limits: 413 past
// the limit.
func readBody(body io.Reader) ([]byte, error) {
	b, err := io.ReadAll(body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge, "request body is too large")
	case err != nil:
		return nil, badRequest("request body could not be read")
	}
	return b, nil
}

func decodeJSON(body io.Reader, dst any) error {
	b, err := readBody(body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("request body is empty; send a JSON object")
	}
	// Checked before decoding: encoding/json would quietly turn bad bytes
	// into U+FFFD in strings but keep them in raw fields (metadata), which
	// PostgreSQL then refuses with a 500 (SQLSTATE 22021).
	if !utf8.Valid(b) {
		return badRequest("request body is not valid UTF-8")
	}
	if err := json.Unmarshal(b, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field != "" {
				return badRequest("field %q has the wrong type: want %s", typeErr.Field, typeErr.Type)
			}
			return badRequest("request body must be a JSON object")
		}
		return badRequest("request body is not valid JSON")
	}
	switch key, p := checkKeys(b, reflect.TypeOf(dst)); p {
	case keyRepeated:
		return badRequest("field %s appears more than once", describe(key))
	case keyMisspelled:
		return badRequest("field %s is not spelled exactly as documented (names are case-sensitive)", describe(key))
	}
	if !plainEscapes(b) {
		return badRequest("request body holds a NUL character (\\u0000) or an unpaired surrogate escape; text must be Unicode without NUL")
	}
	return nil
}

// plainEscapes reports whether every \u escape in b, which must be valid
// JSON, stands for a character that may be stored: not NUL, which
// PostgreSQL cannot keep in text or jsonb (SQLSTATE 22P05) and which
// truncates strings in C, and not half of a surrogate pair, which is no
// character at all (RFC 8259 §8.2) and which jsonb refuses too.
// encoding/json turns a lone surrogate into U+FFFD in a string field, but
// a raw field (metadata) keeps the escape as sent.
func plainEscapes(b []byte) bool {
	if !bytes.Contains(b, []byte(`\u`)) {
		return true // the common case: nothing to look at
	}
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			if b[i+1] != 'u' {
				i++ // a two-character escape; its second byte may be '"' or '\\'
				continue
			}
			r := hex4(b[i+2 : i+6])
			i += 5
			switch {
			case r == 0:
				return false
			case utf16.IsSurrogate(rune(r)) && r >= 0xDC00:
				return false // a low half with no high half before it
			case utf16.IsSurrogate(rune(r)):
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return false
				}
				if lo := hex4(b[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
					return false
				}
				i += 6
			}
		}
	}
	return true
}

// hex4 reads the four hexadecimal digits of a \u escape, which valid JSON
// guarantees are there.
func hex4(h []byte) uint16 {
	var r uint16
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= uint16(c - '0')
		case c >= 'a' && c <= 'f':
			r |= uint16(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= uint16(c - 'A' + 10)
		}
	}
	return r
}

// checkKeys walks the objects of b, which must be valid JSON decoded into
// a value of type t, and reports the first key that encoding/json would
// read differently from what a careful reader expects:
//
//   - a key repeated within one object: encoding/json silently keeps the
//     last value, so a body read one way by a proxy or a WAF and another
//     way by latch could smuggle a field past the first;
//   - a key that is not a field's exact name but that encoding/json
//     matches to it anyway, as it folds case and Unicode (bytes.EqualFold:
//     "PASSWORD", "Email", "paſsword" with U+017F, "K" with the Kelvin
//     sign U+212A): a second spelling of a field is a duplicate the first
//     check cannot see.
//
// Keys that match no field are left alone (they are ignored, as RFC 6749
// §3.2 asks of the token endpoint), and inside a field that is not a
// struct (metadata: raw JSON, the user's own data) any spelling is free;
// only repeats are refused there.
func checkKeys(b []byte, t reflect.Type) (key string, p keyProblem) {
	dec := json.NewDecoder(bytes.NewReader(b))
	// One frame per open object or array.
	type frame struct {
		object bool
		seen   map[string]bool // an object's keys so far
		fields reflect.Type    // an object's struct type; nil: keys are free
		value  reflect.Type    // an object's type for the value after the last key
		elem   reflect.Type    // an array's element type
	}
	var stack []frame
	// next is the type the value about to start decodes into; nil: free.
	next := func() reflect.Type {
		if len(stack) == 0 {
			return t
		}
		if top := stack[len(stack)-1]; top.object {
			return top.value
		}
		return stack[len(stack)-1].elem
	}
	afterKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", keyOK
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true, seen: map[string]bool{}, fields: structOf(next())})
			case '[':
				stack = append(stack, frame{elem: elemOf(next())})
			default:
				stack = stack[:len(stack)-1]
			}
			afterKey = false
			continue
		case string:
			if top := len(stack) - 1; top >= 0 && stack[top].object && !afterKey {
				f := &stack[top]
				if f.seen[v] {
					return v, keyRepeated
				}
				f.seen[v] = true
				f.value = nil
				if f.fields != nil {
					ft, exact := fieldFor(f.fields, v)
					if ft != nil && !exact {
						return v, keyMisspelled
					}
					f.value = ft
				}
				afterKey = true
				continue
			}
		}
		afterKey = false
	}
}

// keyProblem is what checkKeys found wrong with a key.
type keyProblem int

const (
	keyOK keyProblem = iota
	keyRepeated
	keyMisspelled
)

// structOf is t's struct type when a JSON object decodes into t field by
// field, else nil (a map, raw JSON, an interface: keys are data).
func structOf(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

// elemOf is the element type of the slice or array t, else nil.
func elemOf(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) {
		return nil
	}
	return t.Elem()
}

// fieldFor finds the field of struct st that encoding/json fills from the
// key: its type, and whether the key is the field's exact name. It returns
// a nil type for a key that fills no field. Request structs are a handful
// of fields, so a scan beats building a map per request.
func fieldFor(st reflect.Type, key string) (reflect.Type, bool) {
	var folded reflect.Type
	for i := range st.NumField() {
		f := st.Field(i)
		name, ok := jsonName(f)
		if inner := structOf(f.Type); f.Anonymous && inner != nil && f.Tag.Get("json") == "" {
			// An embedded struct's fields are promoted into this object.
			ft, exact := fieldFor(inner, key)
			if exact {
				return ft, true
			}
			if folded == nil {
				folded = ft
			}
			continue
		}
		switch {
		case !ok:
		case name == key:
			return f.Type, true
		case folded == nil && strings.EqualFold(name, key):
			folded = f.Type
		}
	}
	return folded, false
}

// jsonName is the key encoding/json uses for f, and whether it uses f at all.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return f.Name, true
	}
	return name, true
}

// decodeForm fills dst's string fields from a form body, by json tag.
// Repeating a parameter is refused (RFC 6749 §3.2); query parameters are
// never read, so a token in the URL is ignored (RFC 6750 §2.3 is not
// supported on purpose).
func decodeForm(body io.Reader, dst any) error {
	b, err := readBody(body)
	if err != nil {
		return err
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return badRequest("request body is not a valid form")
	}
	// Percent-encoding can carry any byte: %00 and %FF reach a field as
	// they are, and PostgreSQL refuses them in text with a 500 (22021).
	for k, vs := range vals {
		if !plainText(k) || slices.ContainsFunc(vs, func(v string) bool { return !plainText(v) }) {
			return badRequest("parameter %s holds a NUL character or bytes that are not UTF-8", describe(strings.ToValidUTF8(k, "\uFFFD")))
		}
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		got, ok := vals[name]
		raw := t.Field(i).Type == reflect.TypeFor[json.RawMessage]()
		if !ok || (v.Field(i).Kind() != reflect.String && !raw) {
			continue
		}
		if len(got) > 1 {
			return badRequest("parameter %q is repeated", name)
		}
		if raw {
			// A JSON value in a form field (a WebAuthn credential).
			if !json.Valid([]byte(got[0])) {
				return badRequest("parameter %q is not valid JSON", name)
			}
			v.Field(i).SetBytes([]byte(got[0]))
			continue
		}
		v.Field(i).SetString(got[0])
	}
	return nil
}

// plainText reports whether s is UTF-8 without NUL: text any field may
// hold and either database may store.
func plainText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// required reports the first empty field among name/value pairs.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return badRequest("%s is required", pairs[i])
		}
	}
	return nil
}

// describe formats a value for an error description without echoing long
// client input back.
func describe(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
