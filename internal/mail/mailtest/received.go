package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Received is one message the server accepted.
type Received struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Raw     []byte   // the message as sent, headers and body
	Subject string   // decoded from RFC 2047 words
	Text    string   // the text/plain part, decoded, with LF line ends
	HTML    string   // the text/html part, decoded, with LF line ends
	Header  mail.Header
	TLS     bool   // the message came over TLS (STARTTLS or implicit)
	User    string // the user name it logged in with; "" without AUTH
}

// Link is the first URL in Text that starts with prefix, "" if none. The
// URL ends at white space, a quote or an angle bracket, and loses trailing
// sentence punctuation.
func (r Received) Link(prefix string) string {
	if prefix == "" {
		return ""
	}
	text := r.Text
	for off := 0; ; {
		i := strings.Index(text[off:], prefix)
		if i < 0 {
			return ""
		}
		start := off + i
		off = start + 1
		// Only a URL that starts here, not prefix in the middle of one.
		if start > 0 && !strings.ContainsRune(" \t\n\r<(\"'", rune(text[start-1])) {
			continue
		}
		end := strings.IndexAny(text[start:], " \t\r\n<>\"'")
		if end < 0 {
			end = len(text) - start
		}
		return strings.TrimRight(text[start:start+end], ".,;:!?)")
	}
}

// parse decodes what the server keeps of a message. A part it cannot
// decode is left empty, and the error says which.
func parse(from string, to []string, raw []byte) (Received, error) {
	r := Received{From: from, To: to, Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return r, fmt.Errorf("read message: %w", err)
	}
	r.Header = msg.Header
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return r, fmt.Errorf("decode subject: %w", err)
	}
	return r, r.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

// walk descends into multipart bodies and keeps the first text/plain and
// text/html leaves.
func (r *Received) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// Raw, so the transfer encoding is decoded here, the same way
			// for every part.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediaType, err)
			}
			if err := r.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	content, err := io.ReadAll(decode(encoding, body))
	if err != nil {
		return fmt.Errorf("%s (%s): %w", mediaType, encoding, err)
	}
	text := strings.ReplaceAll(string(content), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && r.Text == "":
		r.Text = text
	case mediaType == "text/html" && r.HTML == "":
		r.HTML = text
	}
	return nil
}

func decode(encoding string, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, body)
	default: // 7bit, 8bit, binary
		return body
	}
}
